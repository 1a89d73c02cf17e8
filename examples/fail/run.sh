#!/bin/sh
# A test that fails: says why on stderr and exits 1.
echo "fail: checking the answer"
echo "fail: expected 42, got 41" >&2
exit 1
