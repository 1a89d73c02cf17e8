namespace TestDispatch.Engine.Errors;

/// <summary>
/// Stable error code strings (public contract: scripts branch on them). Add codes; never rename one.
/// The first group appears in a run's <c>error_code</c>; the rest only in CLI errors.
/// </summary>
public static class ErrorCodes
{
    public const string MachineBusy = "machine_busy";
    public const string MachineUnknown = "machine_unknown";
    public const string TestDirNotFound = "test_dir_not_found";
    public const string SpawnFailed = "spawn_failed";
    public const string TransportUnreachable = "transport_unreachable";
    public const string CopyFailed = "copy_failed";
    public const string ArtifactsFailed = "artifacts_failed";
    public const string Timeout = "timeout";
    public const string Interrupted = "interrupted";
    public const string AgentLost = "agent_lost";
    public const string StateCorrupt = "state_corrupt";
    public const string AgentError = "agent_error";
    public const string TransportUnsupported = "transport_unsupported";

    /// <summary>A remote run's tree vanished: its wrapper is gone and left no exit status (the work root was wiped, the wrapper killed).</summary>
    public const string RemoteLost = "remote_lost";

    /// <summary>
    /// A Slurm job ended without its run wrapper's verdict: cancelled by someone else (scancel), preempted, its node failed,
    /// or it vanished from Slurm; the message says which.
    /// </summary>
    public const string JobLost = "job_lost";

    /// <summary>The machine was drained (<c>machine drain</c>): it takes no new work until <c>machine resume</c>; the message says who and why.</summary>
    public const string MachineDrained = "machine_drained";

    /// <summary>Health holds the machine (infrastructure failures in a row, or a failed health check): it takes no new work until it passes one or is resumed.</summary>
    public const string MachineUnhealthy = "machine_unhealthy";

    /// <summary>Processes of a run on the machine survived SIGKILL: it takes no new work until someone looks and resumes it.</summary>
    public const string MachineDirty = "machine_dirty";

    /// <summary>A run on the machine was given up while it did not answer, and may still run there: it takes no new work until that run is seen stopped.</summary>
    public const string MachineInDoubt = "machine_in_doubt";

    /// <summary>
    /// Set on a pending run while its machine's lock is held by another engineer's run (another state dir, another controller):
    /// the run waits, its message naming the holder, and takes the machine as soon as it is free. A verdict only for a batch
    /// item's try that left the held machine for a free one of its tags (interrupted, its test never started; the entry waits again).
    /// </summary>
    public const string MachineBusyElsewhere = "machine_busy_elsewhere";

    /// <summary>The machine cannot be locked against other engineers' runs (no flock there, an unsafe lock directory): the test was not run.</summary>
    public const string MachineLockUnavailable = "machine_lock_unavailable";

    public const string BadInput = "bad_input";
    public const string ConfigInvalid = "config_invalid";
    public const string RunNotFound = "run_not_found";
    public const string AmbiguousId = "ambiguous_id";
    public const string IllegalTransition = "illegal_transition";
    public const string StateLocked = "state_locked";
    public const string PlanInvalid = "plan_invalid";
    public const string BatchNotFound = "batch_not_found";

    /// <summary><c>history CASE</c>: no run recorded a case of that name (or none containing it).</summary>
    public const string CaseNotFound = "case_not_found";

    /// <summary>
    /// Never a run's error_code: a JUnit report of the run that could not be read whole, named in its log
    /// (<c>testdispatch: results_error: …</c>) and in its <c>results_error</c> field. The verdict stays the test's.
    /// </summary>
    public const string ResultsError = "results_error";

    /// <summary>The file system holding the state dir is out of space or quota: nothing was recorded; free space and retry.</summary>
    public const string DiskFull = "disk_full";

    /// <summary>A write, fsync, rename or lock in the state dir failed (I/O error, read-only mount, permissions): nothing was recorded.</summary>
    public const string StateUnwritable = "state_unwritable";

    /// <summary>Reading the state dir failed (I/O error, permissions): nothing was changed.</summary>
    public const string StateUnreadable = "state_unreadable";

    /// <summary>The state dir is writable by other users or owned by another: refused, as ssh refuses such a ~/.ssh.</summary>
    public const string StateUnsafe = "state_unsafe";

    /// <summary>An I/O failure outside the store (a log, a plan, the terminal): the CLI's last resort names it.</summary>
    public const string IoError = "io_error";

    /// <summary>A run's log is not there to read: the run has not started, or it was pruned (maybe while a search read history).</summary>
    public const string LogGone = "log_gone";

    /// <summary><c>diff</c> found no earlier passing (completed) run of the run's test dir to compare it with.</summary>
    public const string NoPassingRun = "no_passing_run";

    /// <summary><c>diff</c>: the two logs differ too much to align within its bounds; the message gives the counts.</summary>
    public const string LogsTooDifferent = "logs_too_different";

    /// <summary>Something this program did not expect (a bug): the CLI's last resort, never a stack trace.</summary>
    public const string InternalError = "internal_error";

    /// <summary>The machine cannot take the work now: busy, or out of service (drained, unhealthy, dirty).</summary>
    public static bool IsMachineUnavailable(string code) => code is MachineBusy or MachineDrained or MachineUnhealthy or MachineDirty or MachineInDoubt;

    public static bool IsBadInput(string code) => code is
        BadInput or ConfigInvalid or PlanInvalid or BatchNotFound or RunNotFound or CaseNotFound or AmbiguousId or MachineUnknown or TestDirNotFound;

    /// <summary>
    /// Failures of the infrastructure rather than the test, which a batch entry's <c>retries</c> may retry: the
    /// machine or the copy failed, or the agent died under the run. A test's own verdict, a timeout, a cancel or a
    /// command that cannot start are never retried.
    /// </summary>
    public static bool IsRetryable(string code) => code is TransportUnreachable or CopyFailed or ArtifactsFailed or AgentLost or AgentError or RemoteLost or JobLost;
}
