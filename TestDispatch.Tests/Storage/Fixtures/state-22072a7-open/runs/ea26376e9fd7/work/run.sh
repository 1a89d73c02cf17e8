#!/bin/sh
# A slow test with steady output: one line a second for SLOW_SECONDS (default 30). Good for logs -f and cancel.
n=${SLOW_SECONDS:-30}
i=1
while [ "$i" -le "$n" ]; do
  echo "slow: step $i of $n"
  i=$((i + 1))
  sleep 1
done
echo "slow: done"
