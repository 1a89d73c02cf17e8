using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Transports.Ssh;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// Taking a run over on an ssh machine (a real sshd on 127.0.0.1, so the machine is this host), where an agent's launch is a
/// script that goes on running there without its client: a launch an agent sent before it died must never start the test
/// once the next agent, finding no wrapper, has ended the run and freed the machine.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SshTakeOverTests : IDisposable
{
    private readonly SshServer _sshd = new();
    private readonly CliHarness _cli;
    private string? _runId;

    public SshTakeOverTests()
    {
        _cli = new CliHarness(machinesJson: $"[ {_sshd.Machine("rig", extra: $", \"LockDir\": \"{Locks}\"")} ]",
            defaults: """ "AgentIdle": "3s", "KillGrace": "1s" """);
    }

    public void Dispose()
    {
        // A test that did start (the defect) is ended here, so that nothing of this test outlives it.
        if (_runId is not null)
        {
            foreach (int pid in Processes.CarryingRun(_runId))
            {
                SshServer.Kill(pid, "-KILL");
            }
        }
        _cli.Dispose();
        _sshd.Dispose();
    }

    private string Locks => _sshd.Combine("locks");

    /// <summary>An agent in the foreground (SIGKILLing itself on reaching <paramref name="step"/>, if given) until it ends.</summary>
    private async Task<BufferedCommandResult> AgentAsync(string? step = null) => await Cli.Wrap(CliHarness.Program[0])
        .WithArguments(["agent", "--state-dir", _cli.StateDir, "--config", _cli.ConfigFile])
        .WithEnvironmentVariables(e => e.Set("TESTDISPATCH_CRASH_AT", step))
        .WithValidation(CommandResultValidation.None)
        .ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token);

    /// <summary>A launch script's step run on the machine (this host) as its ssh session would run it: sh reading it from stdin.</summary>
    private static async Task<string> OnTheMachineAsync(string script) => (await Cli.Wrap("sh")
        .WithStandardInputPipe(PipeSource.FromString(script))
        .WithValidation(CommandResultValidation.None)
        .ExecuteBufferedAsync()).StandardOutput;

    [Fact]
    public async Task A_launch_a_dead_agent_sent_that_arrives_after_the_next_agent_ended_the_run_never_starts_its_test()
    {
        string starts = _cli.Combine("starts");
        string test = _cli.MakeTest("late", $"echo started >>'{starts}'\nsleep 60");
        Lab lab = _cli.OpenLab(startsAgents: false);
        Run run = (await lab.DispatchAsync(test, "rig")).Run;
        _runId = run.Id;

        // The agent dies as it launches: its launch's first step (the run's directory made) has run on the machine, and the
        // step that starts the wrapper is still on its way (an sshd session held up, a slow copy).
        int died = (await AgentAsync("run-marked-running")).ExitCode;
        string prepared = await OnTheMachineAsync(RemoteScripts.Prepare("n1", _sshd.WorkRoot, run.Id));
        string dir = Path.Combine(_sshd.WorkRoot, run.Id);
        await lab.CancelAsync(run.Id);
        BufferedCommandResult next = await AgentAsync(); // finds no wrapper: the run was cancelled before the test started
        Run ended = lab.Show(run.Id);
        await OnTheMachineAsync(RemoteScripts.Start("n2", dir, run.Id, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), 1 << 20,
            Path.Combine(Locks, "testdispatch-rig.lock"), "{}", new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = run.Id },
            ["sh", Path.Combine(test, "run.sh")], keep: false));
        await Task.Delay(TimeSpan.FromSeconds(1)); // time for a wrapper the step started to start the test

        Assert.Equal(128 + 9, died);
        Assert.Contains($"D {dir}", prepared, StringComparison.Ordinal);
        Assert.True(next.ExitCode == 0, next.StandardOutput + next.StandardError);
        Assert.Equal((RunStatus.Interrupted, "cancelled before the test started"), (ended.Status, ended.ErrorMsg));
        Assert.False(File.Exists(starts), "the late launch started the test of a run recorded as never started, on a machine recorded free");
        Assert.Empty(Processes.CarryingRun(run.Id));
    }
}
