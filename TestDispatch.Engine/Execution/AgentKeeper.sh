#!/bin/sh
# The TestDispatch agent's keeper: keeps the agent of one state dir running while it has work, with nobody typing a
# command. POSIX sh (dash, busybox sh, bash); written into the state dir as keeper.sh and started detached (setsid) by any
# client that starts an agent.
#
#   keeper.sh STATE_DIR PROGRAM [ARG ...]
#
# Runs PROGRAM ARG... (the agent) in a process group of its own and waits for it. The agent exits 0 when it is done (idle
# with no work, or another agent holds agent.lock): so does the keeper. An agent that refused its configuration (status
# 2: the file gone or broken since) is not started again either, with a line in the log saying so. Any other end (killed
# by a signal, a crash, stopped with runs still going) starts it again after a pause, which doubles while it keeps dying
# within seconds of its start, up to 30 s; after 10 such deaths in a row the keeper gives up and says so. What the dead agent's processes left
# (an rsync, an ssh session: its process group) is killed first; the runs themselves are their wrappers', untouched.
# SIGTERM, SIGINT or SIGHUP to the keeper stop the agent (its runs go on) and the keeper with it. A removed state dir ends
# the keeper at its next start of the agent.
#
# The agent knows its keeper by TESTDISPATCH_KEEPER: if the keeper is killed, the agent starts a new keeper and hands over.

dir=$1
shift
log=$dir/agent.log

say() {
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) keeper $$: $*" >>"$log" 2>/dev/null
}

uptime_s() {
    read -r up _ </proc/uptime
    up=${up%.*}
}

# dash's kill needs "--" before a negative pid; busybox's refuses it.
if kill -s 0 -- $$ 2>/dev/null; then dd=--; else dd=; fi

agent=
stopping=
trap 'stopping=1; [ -n "$agent" ] && kill -s TERM "$agent" 2>/dev/null' TERM INT HUP

TESTDISPATCH_KEEPER=$$
export TESTDISPATCH_KEEPER

pause=1
quick=0
while :; do
    # A state dir removed (a user's rm -r, a test's cleanup) has nothing left to serve: no agent could start on it.
    if [ ! -d "$dir" ]; then
        exit 0
    fi
    uptime_s
    started=$up
    # From a shell that leads its own group (setsid started it), a background setsid does not fork: $! is the agent, and
    # the leader of a group of its own. What it says before it moves its own output to the log (a configuration it cannot
    # read) goes to the log too.
    # The log is made private (0600) if this makes it, whatever the umask the agent and its tests get.
    [ -e "$log" ] || (umask 077 && true >>"$log") 2>/dev/null
    setsid "$@" </dev/null >>"$log" 2>&1 &
    agent=$!
    status=
    until [ -n "$status" ]; do
        wait "$agent"
        status=$?
        # A trapped signal ends the wait early: wait again for the agent's own end.
        if [ -n "$stopping" ] && kill -s 0 "$agent" 2>/dev/null; then
            status=
        fi
    done
    kill -s KILL $dd "-$agent" 2>/dev/null
    last=$agent
    agent=
    if [ "$status" = 0 ] || [ -n "$stopping" ]; then
        exit 0
    fi
    if [ "$status" = 2 ]; then
        # Bad input (a configuration file gone or broken since the agent was started): starting it again cannot help.
        # The next command that needs an agent starts one with its own configuration.
        say "the agent (pid $last) refused its configuration or arguments (status 2; its message is above): not starting it again"
        exit 1
    fi
    uptime_s
    if [ $((up - started)) -lt 10 ]; then
        quick=$((quick + 1))
    else
        quick=0
        pause=1
    fi
    if [ "$quick" -ge 10 ]; then
        say "the agent died $quick times in a row within seconds of its start (last status $status): giving up; 'testdispatch doctor' checks why"
        exit 1
    fi
    say "the agent (pid $last) ended with status $status, with work left: starting it again in ${pause}s"
    sleep "$pause"
    [ -n "$stopping" ] && exit 0
    if [ "$quick" -gt 0 ]; then
        pause=$((pause * 2))
        [ "$pause" -gt 30 ] && pause=30
    fi
done
