using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Transports;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Execution;

[Trait("Category", "Unit")]
public class VerdictTests
{
    private static readonly Run Running = new()
    {
        Id = "0123456789ab", Machine = "m", TestDir = "/t", TestDirHash = "h", Status = RunStatus.Running,
        ArtifactsPath = "/a", LogsPath = "/l", StartedAt = DateTimeOffset.UtcNow,
    };

    private static Run Verdict(ExecutionResult result, bool timedOut = false, bool cancelled = false) =>
        RunExecutor.Verdict(Running, result, timedOut, cancelled, TimeSpan.FromMinutes(5));

    [Fact]
    public void Exit_0_is_completed_and_passes()
    {
        Run run = Verdict(new ExecutionResult(0));

        Assert.Equal((RunStatus.Completed, 0, ""), (run.Status, run.ExitCode, run.ErrorCode));
        Assert.Equal(ExitCodes.Passed, ExitCodes.For(run));
    }

    [Fact]
    public void A_non_zero_exit_is_the_test_failing_not_the_infrastructure()
    {
        Run run = Verdict(new ExecutionResult(7));

        Assert.Equal((RunStatus.Failed, 7, ""), (run.Status, run.ExitCode, run.ErrorCode));
        Assert.Equal(ExitCodes.TestFailed, ExitCodes.For(run));
    }

    [Fact]
    public void An_infrastructure_error_is_failed_with_its_code_and_exit_4()
    {
        Run run = Verdict(ExecutionResult.Failure(ErrorCodes.CopyFailed, "disk full"));

        Assert.Equal((RunStatus.Failed, ErrorCodes.CopyFailed, "disk full"), (run.Status, run.ErrorCode, run.ErrorMsg));
        Assert.Null(run.ExitCode);
        Assert.Equal(ExitCodes.Infrastructure, ExitCodes.For(run));
    }

    [Fact]
    public void A_timeout_wins_over_the_exit_code_the_kill_caused()
    {
        Run run = Verdict(new ExecutionResult(143), timedOut: true, cancelled: true);

        Assert.Equal((RunStatus.Timeout, ErrorCodes.Timeout, 143), (run.Status, run.ErrorCode, run.ExitCode));
        Assert.Contains("5m00s", run.ErrorMsg, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Timeout, ExitCodes.For(run));
    }

    [Fact]
    public void A_cancel_is_interrupted_with_exit_130()
    {
        Run run = Verdict(new ExecutionResult(143), cancelled: true);

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.Interrupted), (run.Status, run.ErrorCode));
        Assert.Equal(ExitCodes.Interrupted, ExitCodes.For(run));
    }

    [Fact]
    public void An_agent_lost_run_exits_130_like_any_interruption()
    {
        Run run = Running with { Status = RunStatus.Interrupted, ErrorCode = ErrorCodes.AgentLost };

        Assert.Equal(ExitCodes.Interrupted, ExitCodes.For(run));
    }

    [Fact]
    public void A_test_stopped_because_the_agent_was_stopped_is_agent_lost_so_a_batch_may_retry_it()
    {
        Run run = RunExecutor.Verdict(Running, new ExecutionResult(143), timedOut: false, cancelled: false, TimeSpan.FromMinutes(5), agentStopped: true);

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.AgentLost, 143), (run.Status, run.ErrorCode, run.ExitCode));
        Assert.True(ErrorCodes.IsRetryable(run.ErrorCode));
    }
}
