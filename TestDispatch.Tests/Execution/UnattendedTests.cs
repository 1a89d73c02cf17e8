using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// Promises kept with nobody watching: a time limit holds on the machine while no agent runs (the run wrapper stops the
/// test itself), locally and over ssh, and the next agent records the timeout.
/// </summary>
[Trait("Category", "Integration")]
public sealed class UnattendedTests : IDisposable
{
    private readonly SshServer _sshd = new();
    private readonly CliHarness _cli;

    public UnattendedTests()
    {
        _cli = new CliHarness(machinesJson: $$"""[ { "Name": "local-1", "Transport": "local" }, {{_sshd.Machine("rig")}} ]""",
            defaults: """ "AgentIdle": "3s", "KillGrace": "1s" """);
    }

    public void Dispose()
    {
        _cli.Dispose();
        _sshd.Dispose();
    }

    private async Task<BufferedCommandResult> AgentAsync(string? crashAt = null) => await Cli.Wrap(CliHarness.Program[0])
        .WithArguments(["agent", "--state-dir", _cli.StateDir, "--config", _cli.ConfigFile])
        .WithEnvironmentVariables(e => e.Set("TESTDISPATCH_CRASH_AT", crashAt))
        .WithValidation(CommandResultValidation.None)
        .ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token);

    [Theory]
    [InlineData("local-1")]
    [InlineData("rig")]
    public async Task A_time_limit_holds_with_the_agent_dead_and_the_next_agent_records_the_timeout(string machine)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string test = _cli.MakeTest("forever", $"sleep {sleep} &\nsleep {sleep + 1}");
        Lab lab = _cli.OpenLab(startsAgents: false);
        Run run = (await lab.DispatchAsync(test, machine, timeout: TimeSpan.FromSeconds(2))).Run;

        // The agent dies as soon as it has recorded where the test runs: nobody watches the run from then on.
        int died = (await AgentAsync("run-process-recorded")).ExitCode;
        await Eventually.True(() => Processes.WithArgument($"sleep {sleep}").Count == 0, TimeSpan.FromSeconds(30), "the test to be stopped with no agent");
        bool noAgent = lab.Locks.TryAcquire(lab.Store.Paths.AgentLock) is { } free && Release(free);
        RunStatus whileNoAgent = lab.Show(run.Id).Status;
        BufferedCommandResult next = await AgentAsync();
        Run ended = lab.Show(run.Id);

        Assert.Equal(128 + 9, died);
        Assert.True(noAgent, "an agent was running meanwhile");
        Assert.Equal(RunStatus.Running, whileNoAgent);
        Assert.True(next.ExitCode == 0, next.StandardOutput + next.StandardError);
        Assert.Equal((RunStatus.Timeout, ErrorCodes.Timeout), (ended.Status, ended.ErrorCode));
        Assert.Empty(Processes.CarryingRun(run.Id));
    }

    private static bool Release(IDisposable held)
    {
        held.Dispose();
        return true;
    }
}
