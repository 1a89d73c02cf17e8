using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Transports;

/// <summary>
/// Reaches one kind of machine (local, ssh) for the agent, which follows runs and never owns them (DESIGN §6–§7): gets
/// a test dir there and starts the run wrapper on it, looks at what the wrapper wrote, asks it to stop, and brings
/// back what the run left. Every call is safe to repeat, and a later agent can pick up where an earlier one stopped.
/// </summary>
public interface ITransport
{
    /// <summary>
    /// Copies the test dir to the run's directory on the machine and starts the wrapper there, detached; returns as soon
    /// as the wrapper runs. If a wrapper was already started for this run (by an agent that died before it could record
    /// it), returns that one instead. What keeps the test from starting is a <see cref="LaunchResult.Failure"/>.
    /// </summary>
    Task<LaunchResult> LaunchAsync(LaunchRequest request, CancellationToken cancellationToken = default);

    /// <summary>What the wrapper has written so far, and whether it still runs (for a remote machine, new log bytes are also copied).</summary>
    Task<WrapperState> LookAsync(RunProcess process, CancellationToken cancellationToken = default);

    /// <summary>Returns when the run may have changed (the wrapper wrote something or ended), after <paramref name="most"/> at most, or when cancelled.</summary>
    Task WaitAsync(RunProcess process, TimeSpan most, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stops the run through its wrapper's <c>stop</c>: SIGTERM to the test's group and to every process carrying its run
    /// id, SIGKILL after <paramref name="grace"/>. Returns when that is over. Safe while the wrapper runs or after it died.
    /// </summary>
    Task StopAsync(RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default);

    /// <summary>Once nothing of the run is alive: brings artifacts back, removes the work dir unless kept. A failure is returned, not thrown.</summary>
    Task<ExecutionResult?> FinishAsync(RunProcess process, Machine machine, CancellationToken cancellationToken = default);

    /// <summary>After the verdict is recorded: removes the wrapper's files (the log and artifacts stay).</summary>
    Task ForgetAsync(RunProcess process, CancellationToken cancellationToken = default);
}

/// <summary>What a launch needs: the run, its machine, the command, the test's environment and the stop grace.</summary>
public sealed record LaunchRequest
{
    public required Run Run { get; init; }
    public required Machine Machine { get; init; }
    public required IReadOnlyList<string> Command { get; init; }
    public required IReadOnlyDictionary<string, string> Environment { get; init; }
    public required TimeSpan KillGrace { get; init; }
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
