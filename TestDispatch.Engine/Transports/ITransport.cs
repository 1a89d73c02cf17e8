using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Engine.Transports;

/// <summary>
/// Reaches one kind of machine (local, ssh) for the agent, which follows runs and never owns them (docs/DESIGN.md,
/// "The agent and the run wrapper"): gets a test dir there and starts the run wrapper on it, looks at what the wrapper
/// wrote, asks it to stop, and brings back what the run left into the run's files on the controller, which the agent names
/// in every call. Every call is safe to repeat, and a later agent can pick up where an earlier one stopped. A transport
/// moves bytes and processes; it records nothing: the agent does.
/// </summary>
public interface ITransport
{
    /// <summary>
    /// Copies the test dir to the run's directory on the machine and starts the wrapper there, detached; returns as soon
    /// as the wrapper runs. If a wrapper was already started for this run (by an agent that died before it could record
    /// it), returns that one instead. What keeps the test from starting is a <see cref="LaunchResult.Failure"/>.
    /// </summary>
    Task<LaunchResult> LaunchAsync(LaunchRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// The wrapper already started for this run, by what the machine shows (its <c>wrapper</c> file, or a wrapper process of
    /// this run that has not written it yet), or null when none was ever started: for an agent taking over a run an agent
    /// before it launched without living to record it.
    /// </summary>
    Task<RunProcess?> FindAsync(RunFiles files, CancellationToken cancellationToken = default);

    /// <summary>
    /// Keeps any wrapper from ever starting this run's test: for an agent ending a run it found no wrapper of (cancelled before
    /// it started), which an agent before it may have launched without living to record it, the launch still on its way on
    /// the machine (a remote launch script goes on without its client). Makes the run's <c>wrapper</c> file, which a wrapper
    /// makes itself, exclusively, before it starts anything. False when a wrapper made it first: find it and follow it.
    /// </summary>
    Task<bool> FenceAsync(RunFiles files, CancellationToken cancellationToken = default);

    /// <summary>What the wrapper has written so far, and whether it still runs (for a remote machine, new log bytes are also copied).</summary>
    Task<WrapperState> LookAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default);

    /// <summary>Returns when the run may have changed (the wrapper wrote something or ended), after <paramref name="most"/> at most, or when cancelled.</summary>
    Task WaitAsync(RunFiles files, RunProcess process, TimeSpan most, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stops the run through its wrapper's <c>stop</c>: SIGTERM to the test's group and to every process carrying its run
    /// id, SIGKILL after <paramref name="grace"/>. Returns when that is over. Safe while the wrapper runs or after it died.
    /// </summary>
    Task StopAsync(RunFiles files, RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default);

    /// <summary>Once nothing of the run is alive: brings artifacts back, removes the work dir unless kept. A failure is returned, not thrown.</summary>
    Task<ExecutionResult?> FinishAsync(RunFiles files, RunProcess process, Machine machine, CancellationToken cancellationToken = default);

    /// <summary>After the verdict is recorded: removes the wrapper's files (the log and artifacts stay).</summary>
    Task ForgetAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes what runs that are over left on the machine (an agent died before its cleanup; a run was given up while the
    /// machine did not answer): stops anything of theirs still alive (SIGTERM, then SIGKILL after <paramref name="grace"/>),
    /// then removes the wrapper's files (a remote run's whole directory, unless kept). Returns the ids of the runs nothing is
    /// left of any more. A run's directory on the machine is its recorded one, or (null) where the transport puts it.
    /// </summary>
    Task<IReadOnlyList<string>> SweepAsync(IReadOnlyList<(RunFiles Files, string? RunDir)> runs, TimeSpan grace, CancellationToken cancellationToken = default);
}

/// <summary>What a launch needs: the run's files, its test dir and machine, the command, the test's environment and the stop grace.</summary>
public sealed record LaunchRequest
{
    public required RunFiles Files { get; init; }
    public required string TestDir { get; init; }
    public required Machine Machine { get; init; }
    public required IReadOnlyList<string> Command { get; init; }
    public required IReadOnlyDictionary<string, string> Environment { get; init; }
    public required TimeSpan KillGrace { get; init; }

    /// <summary>The run's time limit, from the test's start: the wrapper holds it on the machine itself.</summary>
    public required TimeSpan TimeLimit { get; init; }

    /// <summary>About how many bytes of the test's output its log keeps (its head, then its tail): the wrapper holds it.</summary>
    public required long LogLimit { get; init; }

    /// <summary>Who runs this test, as one line the wrapper writes into the machine's lock file for people to read (see LockHolder).</summary>
    public required string Holder { get; init; }
}

/// <summary>The started wrapper, or why the test could not be started (test_dir_not_found, copy_failed, spawn_failed…).</summary>
public sealed record LaunchResult(RunProcess? Process, ExecutionResult? Failure = null)
{
    public static LaunchResult Failed(string errorCode, string message) => new(null, ExecutionResult.Failure(errorCode, message));
}

/// <summary>Why we could not run a test, or could not finish a run: an error code and a message for the user.</summary>
public sealed record ExecutionResult(string ErrorCode, string ErrorMsg)
{
    public static ExecutionResult Failure(string errorCode, string message) => new(errorCode, message);
}

/// <summary>
/// Where a run's files are on the controller, as the agent names them for a transport: the run's directory (the local
/// transport runs the test there), its log (new bytes from a remote machine are appended to it; its length is where the
/// next look starts) and its artifacts directory; and which files of its work dir a remote machine brings back with the
/// artifacts, into <see cref="Reports"/>.
/// </summary>
public sealed record RunFiles(string RunId, string Directory, string Log, string Artifacts)
{
    /// <summary>
    /// Glob patterns ("build/**/*.xml", "**" for any depth) of the test's reports in its work dir, relative to it: a remote
    /// machine keeps its work dir until the finish, which brings the files they match back into <see cref="Reports"/>.
    /// </summary>
    public IReadOnlyList<string> ResultPatterns { get; init; } = [];

    /// <summary>Where the files <see cref="ResultPatterns"/> match on a remote machine come back, at their paths in its work dir.</summary>
    public string Reports => Path.Combine(Directory, "reports");
}
