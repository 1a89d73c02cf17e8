#!/bin/sh
# The TestDispatch run wrapper (docs/DESIGN.md §6): owns one run on the machine where it runs, so the agent can die,
# restart or lose its connection without losing the run. The same script on the controller and on lab machines:
# POSIX sh only (dash, busybox sh, bash), and no process forked where a builtin does.
#
#   RunWrapper.sh run  DIR RUN_ID GRACE_MS LIMIT_MS LOG_BYTES LOCK HOLDER [NAME=VALUE ...] -- COMMAND [ARG ...]
#   RunWrapper.sh stop DIR RUN_ID GRACE_MS REASON
#
# 'run' first takes the machine's lock, LOCK (see take_lock), and writes HOLDER (one line saying who runs what) into it:
# one run at a time on this machine, whoever dispatched it, for the wrapper's whole life. If another run holds it, or it
# cannot be had safely here, the test is not started (see held and nolock below). Then 'run' starts COMMAND in DIR/work, in a session and process group of its own (setsid), stdin from /dev/null,
# stdout and stderr appended to DIR/output.log on one descriptor (their order kept), with NAME=VALUE in its
# environment only; waits for it; records how it ended; then stops whatever it left behind. LIMIT_MS after the test
# started, if it still runs, the wrapper stops it itself ('stop ... timeout'): a time limit holds on the machine even
# while no agent watches (dead, stopped, cut off). The test's output passes through a relay that bounds the log to about
# LOG_BYTES: its head as it comes, then, once the output ends, its tail after a line saying what was cut. 'stop' stops a run
# (cancel, timeout, or cleaning up after a dead wrapper): SIGTERM to its group and to every process whose
# environment carries TESTDISPATCH_RUN_ID=RUN_ID (those that called setsid or double-forked), SIGKILL after
# GRACE_MS, never sooner. Whoever stops a run first (the wrapper after the test, or 'stop') does it alone: a
# second SIGTERM would cut short the cleanup the first one started.
#
# What it leaves in DIR, each a line the agent reads (a file without its newline is not written yet):
#   wrapper   "PID START"              the wrapper itself (created exclusively: one wrapper per run)
#   pgid      "PGID START UPTIME"      the test's process group, written by the test's process before it execs
#   exit      "STATUS UPTIME"          how and when the test ended (tmp + rename)
#   stop      "REASON UPTIME"          why and when a stop began, if one did
#   stopping  "PID START"              who is stopping the run (created exclusively: the claim)
#   stopping.KEY "PID START"           who took over the claim KEY ("PID.START") after its claimer died (linked)
#   stopped   "PIDS"                   the stop is over; PIDS survived SIGKILL (an empty file when nothing did)
#   cut       "cut" or "full"          the log was cut at its limit, or a write to it failed for want of room, or the test
#                                      failed with the disk holding DIR (nearly) full (else blank)
#   held      "HOLDER"                 the machine's lock is another run's (its holder record): the test was not started
#   nolock    "WHY"                    the machine's lock cannot be had safely here: the test was not started
#   done      (empty)                  the wrapper is finished: nothing of the run is alive but what stopped names
# exit and stop are written into space reserved when the run starts (exit.tmp, stop.tmp), and the empty files take
# no space: a disk that fills up while the test runs must not cost its verdict.
# START is field 22 of /proc/PID/stat (clock ticks since boot), so a recycled pid is never taken for ours;
# UPTIME is the first field of /proc/uptime, so times compare on the machine that took them.

dir=$2
run_id=$3
grace_ms=$4

# What the wrapper makes (the run's log among it) is its user's alone, as everything in the state dir is (files 0600),
# whatever umask it was started with; the test gets that umask back.
mask=$(umask)
umask 077

# dash's kill needs "--" before a negative pid; busybox's refuses it.
if kill -s 0 -- $$ 2>/dev/null; then dd=--; else dd=; fi

field22() { shift 19; start=$1; }

# start_of PID: sets $start to the process's start time, empty if it is gone.
start_of() {
    start=
    stat=
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    field22 ${stat##*) }
}

uptime_now() { read -r up _ </proc/uptime; }

# ms_of UPTIME: sets $ms to an uptime as /proc/uptime gives it (seconds, two decimals) in milliseconds; 0 if it is not one.
ms_of() {
    case $1 in
    *[!0-9.]* | "" | .* | *.*.*) ms=0; return ;;
    *.*) hundredths=${1#*.} ;;
    *) hundredths=0 ;;
    esac
    hundredths=${hundredths#0}
    ms=$((${1%.*} * 1000 + ${hundredths:-0} * 10))
}

# read_line FILE: sets $line to the file's first line if it is whole.
read_line() {
    line=
    [ -f "$1" ] && IFS= read -r line <"$1"
}

# The recorded group, if it is still ours: /proc/PGID with another start time means the number was reused.
# A gone /proc/PGID is fine: Linux never reuses a pid while a process group of that number has members. But once the
# group is seen empty its number is free, and the next session leader forked on this machine may get it (pids wrap
# within seconds on a busy host): from then on it is forgotten, never signalled again. See group_alive.
group=
group_start=
load_group() {
    group=
    read_line "$dir/pgid" || return 0
    set -- $line
    [ -n "$1" ] || return 0
    if start_of "$1" && [ "$start" != "$2" ]; then return 0; fi
    group=$1
    group_start=$2
}

# Whether the run's group still has members; forgets it for good when not (or when its number went to a new leader).
group_alive() {
    [ -n "$group" ] || return 1
    if start_of "$group" && [ "$start" != "$group_start" ]; then
        group=
        return 1
    fi
    kill -s 0 $dd "-$group" 2>/dev/null && return 0
    # The test's process records the group just before it makes it (setsid): until then its pid alone answers.
    [ -n "$start" ] && running "$group" && return 0
    group=
    return 1
}

# The environ files of every process of the run found by its environment (same user; others' are unreadable), into
# $carried. /proc/PID/environ is NUL-separated: grep -z reads it a variable at a time (GNU grep and busybox have it).
# Whether this grep has it is learnt from the first call itself, at no extra cost: grep's own command line (NUL-separated
# too) holds the pattern as one argument, so /proc/self/cmdline is among the files it names exactly when -z works.
# Without it grep stops at the first NUL: one tr per process instead.
nul_lines=
carrying() {
    if [ "$nul_lines" != no ]; then
        carried=$(grep -l -z -x -F -s -e "TESTDISPATCH_RUN_ID=$run_id" /proc/self/cmdline /proc/[0-9]*/environ 2>/dev/null)
        case $carried in
        /proc/self/cmdline*)
            nul_lines=yes
            carried=${carried#/proc/self/cmdline}
            return 0
            ;;
        esac
        nul_lines=no
    fi
    carried=
    for f in /proc/[0-9]*/environ; do
        tr '\000' '\n' 2>/dev/null <"$f" | grep -q -x -F -e "TESTDISPATCH_RUN_ID=$run_id" && carried="$carried $f"
    done
}

# The run's processes found by their environment: $swept their pids, $swept_starts "PID:START" of each as found, so a
# pid that ends and goes to a stranger before it is signalled (pids wrap fast on a busy host) is not signalled.
swept=
swept_starts=
sweep() {
    swept=
    swept_starts=
    carrying
    for f in $carried; do
        p=${f#/proc/}
        p=${p%/environ}
        [ "$p" = $$ ] && continue
        start_of "$p" || continue
        swept="$swept $p"
        swept_starts="$swept_starts $p:$start"
    done
}

signal_all() {
    if group_alive; then
        kill -s "$1" $dd "-$group" 2>/dev/null || kill -s "$1" "$group" 2>/dev/null
    fi
    sweep
    for e in $swept_starts; do
        start_of "${e%%:*}" && [ "$start" = "${e#*:}" ] && kill -s "$1" "${e%%:*}" 2>/dev/null
    done
}

# Whether any process of the run is alive (a zombie group leader counts until it is reaped).
alive() {
    group_alive && return 0
    sweep
    [ -n "$swept" ]
}

# The run's processes that are not zombies: those SIGKILL could not end (uninterruptible sleep).
survivors() {
    left=
    for s in /proc/[0-9]*/stat; do
        read -r stat 2>/dev/null <"$s" || continue
        set -- ${stat##*) }
        [ "$1" != Z ] && [ -n "$group" ] && [ "$3" = "$group" ] && left="$left ${s%/stat}"
    done
    sweep
    for p in $swept; do
        read -r stat 2>/dev/null <"/proc/$p/stat" || continue
        set -- ${stat##*) }
        [ "$1" != Z ] && left="$left /proc/$p"
    done
    pids=
    for p in $left; do
        p=${p#/proc/}
        case " $pids " in *" $p "*) ;; *) pids="$pids $p" ;; esac
    done
    pids=${pids# }
}

# SIGTERM, up to GRACE_MS for everything to end, then SIGKILL; leaves the survivors in $pids.
terminate() {
    pids=
    load_group
    alive || return 0
    signal_all TERM
    waited=${graced_ms:-0}
    while [ "$waited" -lt "$grace_ms" ] && alive; do
        sleep 0.1
        waited=$((waited + 100))
    done
    rounds=0
    while [ "$rounds" -lt 20 ] && alive; do
        signal_all KILL
        sleep 0.05
        rounds=$((rounds + 1))
    done
    if alive; then
        survivors
        if [ -n "$pids" ]; then
            echo "testdispatch: processes of run $run_id survived SIGKILL: $pids (uninterruptible sleep?); 'testdispatch doctor' lists them" >>"$dir/output.log"
        fi
    fi
}

# Whether PID is a live process (not a zombie).
running() {
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    set -- ${stat##*) }
    [ "$1" != Z ]
}

# A process that left the run's group, session and environment (env -i setsid ...) is out of the sweep's sight (only a
# cgroup could follow it; docs/RELIABILITY.md). One that kept the test's output open holds the relay, and the run, open:
# found by its descriptor on the FIFO (the relay's own aside: the relay and its children), stopped as terminate stops the
# rest, and named in $escaped_names (for the log, once the relay has written all the test's output). All builtins: this
# runs only when the relay outlives the cleanup.
escaped_names=
stop_escaped() {
    rounds=0
    while :; do
        escaped=
        for f in /proc/[0-9]*/fd/*; do
            [ "$f" -ef "$dir/output.fifo" ] || continue
            p=${f#/proc/}
            p=${p%%/*}
            [ "$p" = "$relay_pid" ] && continue
            read -r stat 2>/dev/null <"/proc/$p/stat" || continue
            set -- ${stat##*) }
            [ "$2" = "$relay_pid" ] && continue
            start_of "$p" || continue
            case " $escaped " in *" $p:"*) ;; *) escaped="$escaped $p:$start" ;; esac
        done
        [ -n "$escaped" ] || return 0
        for e in $escaped; do
            comm=
            read -r comm 2>/dev/null <"/proc/${e%%:*}/comm"
            escaped_names="$escaped_names ${e%%:*} ($comm)"
        done
        signal TERM
        waited=0
        while [ "$waited" -lt "$grace_ms" ] && [ -n "$escaped_alive" ]; do
            sleep 0.1
            waited=$((waited + 100))
            signal 0
        done
        [ -n "$escaped_alive" ] && signal KILL
        # Those found may have handed the output on meanwhile (a supervisor restarting its worker): looked for again, a few
        # times; past that the relay is ended, so that nothing outside the run can keep it open for ever.
        rounds=$((rounds + 1))
        if [ "$rounds" -ge 5 ]; then
            kill -s TERM "$relay_pid" 2>/dev/null
            return 0
        fi
        sleep 0.1
        running "$relay_pid" || return 0
    done
}

# signal SIG: sends SIG to the escaped processes still alive and still the ones found; leaves those in $escaped_alive.
signal() {
    escaped_alive=
    for e in $escaped; do
        start_of "${e%%:*}" && [ "$start" = "${e#*:}" ] && kill -s "$1" "${e%%:*}" 2>/dev/null && escaped_alive="$escaped_alive $e"
    done
}

# claim_of LINE: sets $claim_key to the name a claim "PID START" is taken over by (stopping.KEY), and whether its
# claimer is alive: the same pid with the same start time (a bare pid, from an older wrapper: that pid is alive).
claim_of() {
    claim_key=$1.$2
    case $claim_key in *[!0-9.]* | .*) claim_key=garbage ;; esac
    if [ -n "$2" ]; then
        start_of "$1" && [ "$start" = "$2" ]
    else
        [ -n "$1" ] && kill -s 0 "$1" 2>/dev/null
    fi
}

# current_claim: sets $claim to the claim in force, following takeovers (stopping.KEY names who took KEY's claim; an empty
# claim's taker is stopping.empty).
current_claim() {
    read_line "$dir/stopping"
    claim=$line
    [ -n "$claim" ] || ! read_line "$dir/stopping.empty" || claim=$line
    while [ -n "$claim" ]; do
        claim_of $claim
        read_line "$dir/stopping.$claim_key" && [ -n "$line" ] || return 0
        claim=$line
    done
}

# Takes the stop for this caller, or waits (bounded) for whoever has it. True when this caller has it.
claim_stop() {
    start_of $$
    me="$$ $start"
    set -C
    # The claim is the file's creation, which needs no room: on a full disk a write into it fails although the claim
    # was made. The pid in it is for people, and for taking over a claim whose stop was killed before it was done.
    # (true, not the special builtin ":": a failed redirection would end sh.)
    if true 2>/dev/null >"$dir/stopping"; then
        set +C
        echo "$me" 2>/dev/null >"$dir/stopping"
        return 0
    fi
    set +C
    # No claim file, so it could not be made (the run's directory was deleted): nobody else has the stop either.
    [ -f "$dir/stopping" ] || return 0
    waited=0
    while [ ! -f "$dir/stopped" ] && [ "$waited" -lt $((grace_ms + 10000)) ]; do
        # A claimer that is gone (a SIGKILLed stop, its pid perhaps a stranger's by now) never finishes: its claim is
        # taken over, by one caller only: the one whose link makes stopping.KEY (a link is made whole, or not at all).
        # A claim still empty after 2 s is one whose stop was killed between making it and writing its pid (a live
        # claimer writes it at once; on a full disk it cannot, and two stops at once do no harm).
        current_claim
        key=
        if [ -n "$claim" ]; then
            claim_of $claim || key=$claim_key
        elif [ "$waited" -ge 2000 ]; then
            key=empty
        fi
        if [ -n "$key" ] && echo "$me" 2>/dev/null >"$dir/claim.$$"; then
            ln "$dir/claim.$$" "$dir/stopping.$key" 2>/dev/null
            taken=$?
            rm -f "$dir/claim.$$"
            [ "$taken" = 0 ] && return 0
        fi
        sleep 0.1
        waited=$((waited + 100))
    done
    [ ! -f "$dir/stopped" ]
}

# reserve NAME: room for NAME's line, taken while the disk still has some.
reserve() {
    echo "                                                                " >"$dir/$1.tmp"
}

# commit NAME LINE: LINE over NAME's reserved room (what follows its newline is never read), renamed into place.
commit() {
    if [ -f "$dir/$1.tmp" ]; then
        echo "$2" 1<>"$dir/$1.tmp"
    else
        echo "$2" >"$dir/$1.tmp"
    fi && mv -f "$dir/$1.tmp" "$dir/$1"
}

stop_run() {
    # $1: why. The wrapper's own cleanup after the test passes "", and leaves no stop record.
    if claim_stop; then
        graced_ms=0
        read_line "$dir/stop"
        if [ -n "$line" ]; then
            # A stop taken over from one killed on the way (its agent was stopped or handed over): the grace counts from
            # the first SIGTERM, which that stop recorded, so no number of takeovers gives a test more than its grace.
            uptime_now
            ms_of "$up"
            now_ms=$ms
            ms_of "${line##* }"
            [ "$now_ms" -gt "$ms" ] && graced_ms=$((now_ms - ms))
        elif [ -n "$1" ] && [ ! -f "$dir/exit" ]; then
            uptime_now
            commit stop "$1 $up"
        fi
        terminate
        if [ -n "$pids" ]; then
            echo "$pids" >"$dir/stopped"
        else
            true >"$dir/stopped"
        fi
    fi
}

# The test's output, from the FIFO: up to 90% of LOG_BYTES go to output.log as they come (cat, which writes each read at
# once, under a file size limit: head -c would hold them in its buffer); past that only the last 10% are kept (by tail,
# in memory) and appended, after a line saying so, once the output ends. A write that fails short of the limit (the disk
# holding the log is full) is recorded in 'cut' as "full": the verdict then names the disk, not the test. cat and tail
# read the relay's own stdin (the FIFO, never reopened by name: an open of a FIFO with no writer left would wait for
# ever), through fd 3, as a background command's stdin is /dev/null. TERM (a survivor holding the output open for ever)
# ends it. ulimit -f counts 512-byte blocks in every POSIX sh.
relay() {
    trap '' USR1 # a Slurm stop's signal is the wrapper's alone (see signalled); cat and tail inherit the ignore
    # Not the machine's lock: a relay outliving the wrapper (a survivor holding the output) must not keep the machine taken.
    # Closed here, not by a redirection on the call, which dash and busybox undo by keeping a copy open for the call's end.
    exec 9>&- 3<&0
    tail_bytes=$((log_bytes / 10))
    head_blocks=$(((log_bytes - tail_bytes) / 512))
    part=
    full=
    cut=
    trap 'kill "$part" 2>/dev/null; exit 0' TERM
    (ulimit -f "$head_blocks" 2>/dev/null; trap '' XFSZ; exec cat) <&3 >>"$dir/output.log" 2>/dev/null &
    part=$!
    if wait "$part"; then
        return 0
    fi
    size=$(wc -c <"$dir/output.log")
    [ "${size:-0}" -lt $((head_blocks * 512)) ] && full=1
    tail -c "$tail_bytes" <&3 >"$dir/output.tail" &
    part=$!
    wait "$part" || full=1
    if [ -s "$dir/output.tail" ]; then
        cut=cut
        {
            printf '\n%s\n' "testdispatch: the test's output passed its limit of $log_bytes bytes: it was cut after its first $((head_blocks * 512)) bytes; its last $tail_bytes bytes follow"
            cat "$dir/output.tail"
        } >>"$dir/output.log" 2>/dev/null || full=1
    fi
    [ -n "$full" ] && cut=full
    [ -n "$cut" ] && echo "$cut" 1<>"$dir/cut"
    return 0
}

# The time limit, held by a process of the wrapper's (never of the test's group): LIMIT_MS after the test started, the
# run is stopped as a cancel or an agent's timeout would stop it. Sleeps in slices of at most 10 s and leaves as soon as
# the wrapper is gone (a killed wrapper leaves no watchdog behind for long), or at once when the wrapper kills it.
watch_deadline() {
    trap '' USR1
    exec 9>&- # not the machine's lock, as in relay
    wrapper_pid=$$
    sleeping=
    ended=
    # The wrapper's TERM may come between starting a sleep and knowing its pid: the trap only says so, and the loop,
    # which knows the pid by then, ends the sleep (a trap that exits would leave that sleep behind).
    trap 'ended=1; kill "$sleeping" 2>/dev/null' TERM
    left=$limit_ms
    while [ "$left" -gt 0 ]; do
        slice=$left
        [ "$slice" -gt 10000 ] && slice=10000
        sleep "$((slice / 1000)).$(printf '%03d' $((slice % 1000)))" &
        sleeping=$!
        [ -z "$ended" ] || { kill "$sleeping" 2>/dev/null; exit 0; }
        wait "$sleeping"
        [ -z "$ended" ] || { kill "$sleeping" 2>/dev/null; exit 0; }
        kill -s 0 "$wrapper_pid" 2>/dev/null || exit 0
        left=$((left - slice))
    done
    # The stop must not die with the watchdog: the wrapper kills the watchdog once the test has ended.
    trap '' TERM
    exec sh "$0" stop "$dir" "$run_id" "$grace_ms" timeout
}

# The machine's lock (docs/DESIGN.md §12), on fd 9, held by the wrapper alone: the test, the relay and the watchdog get
# fd 9 closed, so the kernel frees the lock the moment the wrapper ends, however it ends (kill -9, a reboot), and no
# process of the test keeps a machine taken. LOCK's directory is shared by every user of the machine (/tmp by default),
# so it is made the way a shared /tmp demands: the directory must be root's or ours (made 1777 if missing), and sticky if
# others may write in it, so nobody else can remove or replace the lock file; the lock file is never a symlink, and the
# file opened is checked to be LOCK itself before anything is written through it (a link planted between the check and
# the open). Whoever makes the file first makes it 0666: everyone may open and lock it, nobody else may replace it.
# The holder record is written through the locked descriptor (or its /proc name), never by the lock's name; it is for
# people, never the lock itself.
# Returns 0 holding the lock; else sets $lock_holder (the record of whoever holds it) or $lock_refused (why not here).
lock_holder=
lock_refused=
take_lock() {
    lock_dir=${lock%/*}
    if ! command -v flock >/dev/null 2>&1; then
        lock_refused="flock (util-linux) is not installed, so the machine cannot be locked against other engineers' runs"
        return 1
    fi
    [ -e "$lock_dir" ] || [ -L "$lock_dir" ] || mkdir -m 1777 "$lock_dir" 2>/dev/null
    if [ -L "$lock_dir" ] || [ ! -d "$lock_dir" ]; then
        lock_refused="$lock_dir is not a directory (or is a symlink)"
        return 1
    fi
    set -- $(ls -ldn "$lock_dir")
    case $3 in
    0 | "$(id -u)") ;;
    *)
        lock_refused="$lock_dir belongs to user $3, who could remove or replace the lock files in it; it must be root's (or yours)"
        return 1
        ;;
    esac
    case $1 in
    d????w* | d???????w*)
        case $1 in
        d????????[tT]*) ;;
        *)
            lock_refused="$lock_dir may be written by others but is not sticky, so anyone could replace the lock file in it"
            return 1
            ;;
        esac
        ;;
    esac
    if [ -L "$lock" ]; then
        lock_refused="$lock is a symlink (a lock file never is; someone else may have put it there): remove it"
        return 1
    fi
    [ -e "$lock" ] || (umask 0 && set -C && true >"$lock") 2>/dev/null
    # Read and write where allowed, else read only: a kernel with fs.protected_regular (set by most systemd hosts) refuses
    # to open another user's file in a sticky directory with O_CREAT, which every writing redirection of sh asks for, and
    # flock needs no more than a read.
    if ! { command exec 9<>"$lock"; } 2>/dev/null && ! command exec 9<"$lock"; then
        lock_refused="$lock cannot be opened"
        return 1
    fi
    if [ ! -f "$lock" ] || [ -L "$lock" ] || [ ! "/proc/$$/fd/9" -ef "$lock" ]; then
        exec 9>&-
        lock_refused="$lock is not a plain file of its own (a symlink was put there as it was opened?): remove it"
        return 1
    fi
    # A few tries: a look at who holds the machine takes the lock for an instant.
    tries=0
    until flock -n 9; do
        tries=$((tries + 1))
        if [ "$tries" -ge 10 ]; then
            IFS= read -r lock_holder <&9 || lock_holder=
            exec 9>&-
            lock_holder=${lock_holder:-"{}"}
            return 1
        fi
        sleep 0.1
    done
    # Read only, the record goes through the descriptor's own name in /proc, which that rule does not cover (the file is
    # 0666). Failing that, the machine is locked all the same, its holder unnamed.
    echo "$holder" 2>/dev/null >&9 || echo "$holder" 2>/dev/null 1<>"/proc/$$/fd/9"
}

# The test's own process, a fork of the wrapper ($$ is the wrapper's; /proc/self is the fork): records itself as the run's
# group (its pid, start and the time) before anything of the test runs, closes the machine's lock, takes the test's
# output and umask, then becomes setsid, which makes it lead a session and group of that number (a fork never leads a
# group, so setsid need not fork), and setsid becomes the test with NAME=VALUE in its environment.
test_process() {
    exec 9>&- >>"$out" 2>&1
    read -r stat </proc/self/stat
    field22 ${stat##*) }
    uptime_now
    echo "${stat%% *} $start $up" >"$dir/pgid"
    umask "$mask"
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        export "$1"
        shift
    done
    shift
    exec setsid "$@"
}

# Inside a Slurm job (docs/DESIGN.md, "Slurm machines"), the controller cannot run 'stop' on the node: it writes the
# reason into DIR/stop.request and sends the wrapper SIGUSR1 (scancel --batch). SIGTERM is Slurm's own end of the job
# (a scancel by someone else, preemption, its time limit): the test, in a session of its own, would outlive the job, so
# the wrapper stops it, as reason "signal" unless a stop was requested. Either way the stop runs beside the wrapper, which goes on waiting for the test.
signalled=
if [ -n "${SLURM_JOB_ID:-}" ]; then
    trap 'signalled=USR1' USR1
    trap 'signalled=TERM' TERM
fi

case $1 in
run)
    limit_ms=$5
    log_bytes=$6
    lock=$7
    holder=$8
    shift 8
    exec </dev/null >>"$dir/output.log" 2>&1
    cd "$dir/work" || exit 1
    # The claim: a second wrapper for this run (an agent relaunching a run whose launch it could not see) leaves.
    start_of $$
    set -C
    if ! echo "$$ $start" 2>/dev/null >"$dir/wrapper"; then
        [ -f "$dir/wrapper" ] && exit 0
        echo "testdispatch: the run wrapper cannot write in $dir" >&2
        exit 1
    fi
    set +C
    if ! take_lock; then
        if [ -n "$lock_refused" ]; then
            echo "testdispatch: this machine's lock cannot be had: $lock_refused; the test was not run" >&2
            echo "$lock_refused" >"$dir/nolock"
        else
            echo "$lock_holder" >"$dir/held"
        fi
        true >"$dir/done"
        exit 0
    fi
    reserve exit
    reserve stop
    echo "                " >"$dir/cut"
    # Without a FIFO (no mkfifo, tail or wc on this machine; no room even for a FIFO) the test writes straight into the
    # log, unbounded ('testdispatch doctor' says when a machine lacks them).
    [ -p "$dir/output.fifo" ] && rm -f "$dir/output.fifo"
    if command -v tail >/dev/null && command -v wc >/dev/null && mkfifo "$dir/output.fifo" 2>/dev/null; then
        relay <"$dir/output.fifo" &
        relay_pid=$!
        out=$dir/output.fifo
    else
        relay_pid=
        out=$dir/output.log
    fi
    test_process "$@" &
    test_pid=$!
    watch_deadline &
    watchdog=$!
    while :; do
        if [ -n "$signalled" ]; then
            read_line "$dir/stop.request"
            [ -n "$line" ] || line=signal
            signalled=
            sh "$0" stop "$dir" "$run_id" "$grace_ms" "$line" &
        fi
        wait "$test_pid"
        status=$?
        # A signal that cut the wait short (the test not yet reaped, so still there), not one that came after it.
        [ -n "$signalled" ] && kill -s 0 "$test_pid" 2>/dev/null || break
    done
    kill "$watchdog" 2>/dev/null
    # A test that failed on a full disk (its work dir is on the disk DIR is on) failed because of the disk: said in 'cut',
    # before the cleanup frees what it wrote. Available 1K blocks, from the second line of df -P.
    room=
    [ "$status" -ne 0 ] && room=$(df -Pk "$dir" 2>/dev/null | { read -r _; read -r _ _ _ k _; echo "$k"; })
    uptime_now
    # A run dir that cannot be written for a while (remounted read-only, a failing disk) must not cost the verdict: it is
    # kept here until it is written, as long as the run dir is there at all.
    until commit exit "$status $up" 2>/dev/null; do
        [ -d "$dir" ] || break
        sleep 0.5
    done
    stop_run ""
    if [ -n "$relay_pid" ]; then
        # The relay ends when the last writer of the test's output has: the cleanup above stopped them all, unless some
        # survived SIGKILL (see stopped), which would hold it open for ever, or escaped it (see stop_escaped). It has
        # mostly ended (and been reaped) by now; else it gets a second to drain what the test wrote.
        read_line "$dir/stopped"
        [ -n "$line" ] && kill -s TERM "$relay_pid" 2>/dev/null
        waited=0
        while running "$relay_pid" && [ "$waited" -lt 1000 ]; do
            sleep 0.05
            waited=$((waited + 50))
        done
        running "$relay_pid" && stop_escaped
        wait "$relay_pid"
        [ -z "$escaped_names" ] ||
            printf '\n%s\n' "testdispatch: processes left the run's process group, session and environment but kept its output open; they were stopped:$escaped_names" >>"$dir/output.log"
    fi
    case $room in '' | *[!0-9]*) ;; *) [ "$room" -lt 256 ] && echo full 1<>"$dir/cut" ;; esac
    true >"$dir/done"
    ;;
stop)
    stop_run "$5"
    ;;
*)
    echo "usage: $0 run DIR RUN_ID GRACE_MS LIMIT_MS LOG_BYTES LOCK HOLDER [NAME=VALUE ...] -- COMMAND [ARG ...] | stop DIR RUN_ID GRACE_MS REASON" >&2
    exit 2
    ;;
esac
