#!/usr/bin/env bash
# Plain-text screenshots of the terminal app for the docs: docs/screens/{machines,runs,batches,batch-view,run-view}.txt
# at 100x30. Runs the built binary in a private tmux server on a temporary state dir holding real runs of
# examples/ (pass, fail, artifacts, and slow, cancelled) and a batch of examples/plans/smoke.json, made with the
# default configuration.
#
#   scripts/capture-screens.sh [path/to/testdispatch]
#   SCREENS_WIDTH=80 SCREENS_HEIGHT=24 SCREENS_OUT=/tmp/screens scripts/capture-screens.sh   # another size, elsewhere
#
# The binary defaults to the published one (dotnet publish TestDispatch.Tui -c Release -r linux-x64), else the
# built Release one, else the Debug one. Needs tmux and flock.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${SCREENS_OUT:-$repo/docs/screens}
width=${SCREENS_WIDTH:-100}
height=${SCREENS_HEIGHT:-30}

bin=${1:-}
if [[ -z $bin ]]; then
  for candidate in "Release/net10.0/linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')/publish" Release/net10.0 Debug/net10.0; do
    if [[ -x $repo/TestDispatch.Tui/bin/$candidate/testdispatch ]]; then
      bin=$repo/TestDispatch.Tui/bin/$candidate/testdispatch
      break
    fi
  done
fi
if [[ -z $bin || ! -x $bin ]]; then
  echo "capture-screens: no built testdispatch; run 'dotnet build -c Release TestDispatch.Tui' first, or pass the binary" >&2
  exit 2
fi
for tool in tmux flock; do
  command -v "$tool" >/dev/null || { echo "capture-screens: $tool is needed" >&2; exit 2; }
done

work=$(mktemp -d)
state="$work/state"
socket="capture-screens-$$"
# The default configuration only: no user config file may leak in. The agent quits soon after the last run,
# so nothing is left running on the temporary state dir.
export XDG_CONFIG_HOME="$work/config"
export TESTDISPATCH__Defaults__AgentIdle=3s
mkdir -p "$XDG_CONFIG_HOME"

app_pid=""
cleanup() {
  # The app first (it is ours: end it by its pid if q did not), then its terminal.
  if [[ -n $app_pid ]]; then
    for _ in $(seq 1 50); do
      kill -0 "$app_pid" 2>/dev/null || break
      sleep 0.1
    done
    if [[ $(cat "/proc/$app_pid/comm" 2>/dev/null) == testdispatch ]]; then
      kill "$app_pid" 2>/dev/null || true
    fi
  fi
  tmux -L "$socket" kill-server 2>/dev/null || true
  # Wait for the agent to let go of the state dir before deleting it.
  if [[ -e $state/agent.lock ]]; then
    for _ in $(seq 1 50); do
      if flock -n "$state/agent.lock" true; then break; fi
      sleep 0.2
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

td() { "$bin" --state-dir "$state" "$@"; }

# 1. Real runs: three that end by themselves, one slow one cancelled while it runs.
echo "capture-screens: dispatching examples/ into $state" >&2
td run "$repo/examples/pass" --machine local-1 --wait >/dev/null || true
fail_id=$(td run "$repo/examples/fail" --machine local-2 --wait) || true
td run "$repo/examples/artifacts" --machine local-1 --wait >/dev/null || true
slow_out="$work/slow.out"
td run "$repo/examples/slow" --machine local-2 --wait >"$slow_out" 2>/dev/null &
slow_wait=$!
slow_id=""
for _ in $(seq 1 100); do
  slow_id=$(head -n 1 "$slow_out" 2>/dev/null || true)
  [[ -n $slow_id ]] && break
  sleep 0.1
done
[[ -n $slow_id ]] || { echo "capture-screens: the slow run never printed its id" >&2; exit 4; }
# Let it print a few steps, then cancel it; its --wait then ends with the verdict.
for _ in $(seq 1 100); do
  [[ $(td show "$slow_id") == *running* ]] && break
  sleep 0.1
done
sleep 2
td cancel "$slow_id" >/dev/null
wait "$slow_wait" || true
[[ -n $fail_id ]] || { echo "capture-screens: the fail run printed no id" >&2; exit 4; }
batch_id=$(td batch submit "$repo/examples/plans/smoke.json" --wait 2>/dev/null) || true
[[ -n $batch_id ]] || { echo "capture-screens: the batch printed no id" >&2; exit 4; }

# 2. The app in a private tmux server.
tmux -L "$socket" -f /dev/null new-session -d -s screens -x "$width" -y "$height" \
  -e "XDG_CONFIG_HOME=$XDG_CONFIG_HOME" -e "TESTDISPATCH__Defaults__AgentIdle=3s" \
  "$bin" --state-dir "$state"
app_pid=$(tmux -L "$socket" display-message -p -t screens '#{pane_pid}')

screen() { tmux -L "$socket" capture-pane -p -t screens; }
keys() { tmux -L "$socket" send-keys -t screens "$@"; }
# wait_for TEXT...: until every TEXT is on screen (10 s at most).
wait_for() {
  local s text missing
  for _ in $(seq 1 100); do
    s=$(screen)
    missing=0
    for text in "$@"; do
      [[ $s == *"$text"* ]] || missing=1
    done
    ((missing == 0)) && return 0
    sleep 0.1
  done
  echo "capture-screens: the screen never showed: $*" >&2
  screen >&2
  exit 4
}
save() {
  sleep 0.3 # one more refresh, so nothing is half drawn
  screen >"$out/$1"
  echo "capture-screens: wrote $out/$1" >&2
}

mkdir -p "$out"
wait_for "[2 Runs]" "8 runs" "$slow_id" "$fail_id"
save runs.txt
keys 1
wait_for "[1 Machines]" "local-1" "local-2"
save machines.txt
keys 3
wait_for "[3 Batches]" "$batch_id"
save batches.txt
keys Enter
wait_for "Batch smoke" "slow-5s"
save batch-view.txt
keys Escape
wait_for "[3 Batches]" # back on the main screen before the next key (an Esc and a key at once read as Alt+key)
# The run view of the failed run: filter the list to it, keep the filter, open it.
keys 2
wait_for "[2 Runs]"
keys /
keys -l "$fail_id"
keys Enter
wait_for "filter: $fail_id" "1 run"
keys Enter
wait_for "Run $fail_id" "expected 42, got 41"
save run-view.txt
keys q
sleep 0.3
keys q
