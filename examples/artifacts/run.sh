#!/bin/sh
# A test that leaves artifacts: whatever it writes to $TESTDISPATCH_ARTIFACTS is kept with the run.
set -e
echo "artifacts: writing a report to $TESTDISPATCH_ARTIFACTS"
printf 'run=%s\nmachine=%s\n' "$TESTDISPATCH_RUN_ID" "$TESTDISPATCH_MACHINE" > "$TESTDISPATCH_ARTIFACTS/report.txt"
date -u +%Y-%m-%dT%H:%M:%SZ > "$TESTDISPATCH_ARTIFACTS/finished-at.txt"
echo "artifacts: done"
