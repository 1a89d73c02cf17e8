using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Wrapper;
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

    /// <summary>The wrapper saw the test end with <paramref name="status"/> at uptime 100 s; a stop began at <paramref name="stopAt"/>.</summary>
    private static Run Verdict(int status, string? stop = null, double stopAt = 99)
    {
        WrapperState state = new()
        {
            BootId = "boot", Uptime = 101, Done = true,
            Test = new TestStart(4000, 123, 10),
            Exit = new TestExit(status, 100),
            Stop = stop is null ? null : new StopRecord(stop, stopAt),
        };
        return RunExecutor.Verdict(Running, new Ending(state, null), TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void Exit_0_is_completed_and_passes()
    {
        Run run = Verdict(0);

        Assert.Equal((RunStatus.Completed, 0, ""), (run.Status, run.ExitCode, run.ErrorCode));
        Assert.Equal(ExitCodes.Passed, ExitCodes.For(run));
    }

    [Fact]
    public void A_non_zero_exit_is_the_test_failing_not_the_infrastructure()
    {
        Run run = Verdict(7);

        Assert.Equal((RunStatus.Failed, 7, ""), (run.Status, run.ExitCode, run.ErrorCode));
        Assert.Equal(ExitCodes.TestFailed, ExitCodes.For(run));
    }

    [Fact]
    public void An_infrastructure_error_is_failed_with_its_code_and_exit_4()
    {
        Run run = RunExecutor.Verdict(Running, Ending.Failed(ErrorCodes.CopyFailed, "disk full"), TimeSpan.FromMinutes(5));

        Assert.Equal((RunStatus.Failed, ErrorCodes.CopyFailed, "disk full"), (run.Status, run.ErrorCode, run.ErrorMsg));
        Assert.Null(run.ExitCode);
        Assert.Equal(ExitCodes.Infrastructure, ExitCodes.For(run));
    }

    [Fact]
    public void A_timeout_that_fired_while_the_test_ran_wins_over_the_exit_code_the_kill_caused()
    {
        Run run = Verdict(143, RunWrapper.Timeout);

        Assert.Equal((RunStatus.Timeout, ErrorCodes.Timeout, 143), (run.Status, run.ErrorCode, run.ExitCode));
        Assert.Contains("5m00s", run.ErrorMsg, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Timeout, ExitCodes.For(run));
    }

    [Fact]
    public void A_limit_that_fired_after_the_test_had_ended_leaves_the_test_its_own_verdict()
    {
        Run run = Verdict(0, RunWrapper.Timeout, stopAt: 100.5);

        Assert.Equal((RunStatus.Completed, 0, ""), (run.Status, run.ExitCode, run.ErrorCode));
    }

    [Fact]
    public void A_cancel_is_interrupted_with_exit_130()
    {
        Run run = Verdict(143, RunWrapper.Cancel);

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.Interrupted, 143), (run.Status, run.ErrorCode, run.ExitCode));
        Assert.Equal(ExitCodes.Interrupted, ExitCodes.For(run));
    }

    [Fact]
    public void A_cancel_before_the_test_started_is_interrupted_without_an_exit_code()
    {
        Run run = RunExecutor.Verdict(Running, Ending.Cancelled(), TimeSpan.FromMinutes(5));

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.Interrupted, null), (run.Status, run.ErrorCode, run.ExitCode));
    }

    [Fact]
    public void A_run_whose_wrapper_is_gone_is_agent_lost_exits_130_and_a_batch_may_retry_it()
    {
        Run run = RunExecutor.Verdict(Running, Ending.Lost("the wrapper was killed"), TimeSpan.FromMinutes(5));

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.AgentLost, "the wrapper was killed"), (run.Status, run.ErrorCode, run.ErrorMsg));
        Assert.Equal(ExitCodes.Interrupted, ExitCodes.For(run));
        Assert.True(ErrorCodes.IsRetryable(run.ErrorCode));
    }

    [Fact]
    public void A_failure_after_the_test_ended_keeps_its_exit_code_and_says_what_failed()
    {
        WrapperState state = new() { BootId = "b", Uptime = 2, Done = true, Test = new TestStart(1, 1, 1), Exit = new TestExit(0, 2) };

        Run run = RunExecutor.Verdict(Running, new Ending(state, Engine.Transports.ExecutionResult.Failure(ErrorCodes.ArtifactsFailed, "no space")),
            TimeSpan.FromMinutes(5));

        Assert.Equal((RunStatus.Failed, 0, ErrorCodes.ArtifactsFailed), (run.Status, run.ExitCode, run.ErrorCode));
    }
}
