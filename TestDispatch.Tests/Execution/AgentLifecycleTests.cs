using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>The agent as a process: one per state dir, recovery after it dies, idle exit.</summary>
[Trait("Category", "Integration")]
public sealed class AgentLifecycleTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private Command Agent() => Cli.Wrap(CliHarness.Program[0])
        .WithArguments(["agent", "--state-dir", _cli.StateDir, "--config", _cli.ConfigFile])
        .WithValidation(CommandResultValidation.None);

    [Fact]
    public async Task Two_agents_started_at_once_leave_one_running_and_the_run_executes_once()
    {
        string counter = _cli.Combine("count");
        Lab withoutAgent = _cli.OpenLab(startsAgents: false);
        Run run = (await withoutAgent.DispatchAsync(_cli.MakeTest("once", $"echo x >> '{counter}'"), "local-1")).Run;

        Task<BufferedCommandResult> first = Agent().ExecuteBufferedAsync();
        Task<BufferedCommandResult> second = Agent().ExecuteBufferedAsync();
        Task<BufferedCommandResult> quitter = await Task.WhenAny(first, second);
        BufferedCommandResult quit = await quitter;
        Run ended = await withoutAgent.WaitAsync(run.Id);

        Assert.Contains("another agent holds", quit.StandardOutput, StringComparison.Ordinal);
        Assert.False((quitter == first ? second : first).IsCompleted && quitter != first && quitter != second);
        Assert.Equal(RunStatus.Completed, ended.Status);
        Assert.Equal(["x"], await File.ReadAllLinesAsync(counter));
        BufferedCommandResult survivor = await (quitter == first ? second : first);
        Assert.Contains("exiting", survivor.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("another agent holds", survivor.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_idle_agent_exits_by_itself_and_a_later_dispatch_starts_a_new_one()
    {
        (int exit, _, _) = await _cli.Run("run", _cli.MakeTest("quick", "exit 0"), "--machine", "local-1", "--wait");
        Lab lab = _cli.OpenLab();
        Assert.Equal(0, exit);

        await Eventually.True(() => lab.Locks.TryAcquire(lab.Store.Paths.AgentLock) is { } free && Release(free),
            within: TimeSpan.FromSeconds(60), what: "the idle agent to exit");
        (int again, _, _) = await _cli.Run("run", _cli.MakeTest("quick-again", "exit 0"), "--machine", "local-1", "--wait");

        Assert.Equal(0, again);
        Assert.Contains("exiting", await File.ReadAllTextAsync(lab.Store.Paths.AgentLog), StringComparison.Ordinal);
    }

    private static bool Release(IDisposable held)
    {
        held.Dispose();
        return true;
    }
}
