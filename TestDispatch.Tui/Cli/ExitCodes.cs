using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.Cli;

/// <summary>The CLI's exit codes (docs/DESIGN.md §9), a public contract: scripts branch on them.</summary>
public static class ExitCodes
{
    public const int Passed = 0;
    public const int TestFailed = 1;
    public const int BadInput = 2;
    /// <summary>The machine is busy, or out of service (drained, unhealthy, dirty).</summary>
    public const int MachineBusy = 3;
    public const int Infrastructure = 4;
    public const int Timeout = 124;
    public const int Interrupted = 130;

    public static int For(DispatchException error) => error.ErrorCode switch
    {
        _ when ErrorCodes.IsMachineUnavailable(error.ErrorCode) => MachineBusy,
        _ when error.IsBadInput => BadInput,
        _ => Infrastructure,
    };

    /// <summary>The verdict of a terminal run as an exit code: the test's result, or why it could not run.</summary>
    public static int For(Run run) => run.Status switch
    {
        RunStatus.Completed => Passed,
        RunStatus.Timeout => Timeout,
        RunStatus.Interrupted => Interrupted,
        RunStatus.Failed when run.ErrorCode.Length > 0 => Infrastructure,
        RunStatus.Failed => TestFailed,
        _ => throw new ArgumentException($"run {run.Id} is not finished ({run.Status.ToWord()})", nameof(run)),
    };

    /// <summary>The verdict of an ended batch: 0 when every entry passed, 130 when it was cancelled, else 1.</summary>
    public static int For(Batch batch) => batch.Status switch
    {
        BatchStatus.Completed => Passed,
        BatchStatus.Cancelled => Interrupted,
        BatchStatus.Failed => TestFailed,
        _ => throw new ArgumentException($"batch {batch.Id} is not finished ({batch.Status.ToWord()})", nameof(batch)),
    };
}
