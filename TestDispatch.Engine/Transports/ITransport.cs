using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Transports;

/// <summary>
/// Gets a test directory onto a machine, runs its command there in a process group of its own with
/// output appended to the run's log, and brings artifacts back. One per kind of machine (local, ssh).
/// </summary>
public interface ITransport
{
    /// <summary>
    /// Runs the test and returns when it has ended. When <paramref name="stop"/> fires, the whole
    /// process tree gets SIGTERM, then SIGKILL after <see cref="ExecutionRequest.KillGrace"/>.
    /// Infrastructure failures are returned as an <see cref="ExecutionResult.ErrorCode"/>, not thrown.
    /// </summary>
    Task<ExecutionResult> ExecuteAsync(ExecutionRequest request, CancellationToken stop);
}

/// <summary>Everything a transport needs to run one test.</summary>
public sealed record ExecutionRequest
{
    public required Run Run { get; init; }
    public required Machine Machine { get; init; }
    public required IReadOnlyList<string> Command { get; init; }
    public required Stream Log { get; init; }
    public required string WorkDir { get; init; }
    public required IReadOnlyDictionary<string, string> Environment { get; init; }
    public required TimeSpan KillGrace { get; init; }

    /// <summary>Called once the test's process exists, so the agent can record it for recovery.</summary>
    public required Action<RunProcess> OnStarted { get; init; }
}

/// <summary>How a test ended: its exit code if it ran, or why it could not run.</summary>
public sealed record ExecutionResult(int? ExitCode, string ErrorCode = "", string ErrorMsg = "")
{
    public static ExecutionResult Failure(string errorCode, string message) => new(null, errorCode, message);
}
