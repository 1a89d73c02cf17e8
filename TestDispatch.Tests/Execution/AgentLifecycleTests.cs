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
    public async Task Killing_the_agent_mid_run_leaves_the_run_interrupted_with_agent_lost_and_its_processes_gone()
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string test = _cli.MakeTest("long", $"sleep {sleep} &\nsleep {sleep + 1}\n");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        RunRecord running = await Eventually.Get(() => lab.Store.Get(id) is { Process: not null } r ? r : null, what: "the run to start");
        await Eventually.True(() => Processes.WithArgument($"sleep {sleep + 1}").Count > 0, what: "the test's processes");

        System.Diagnostics.Process.GetProcessById(running.Process!.AgentPid).Kill();
        await Eventually.True(() => lab.Locks.TryAcquire(lab.Store.Paths.AgentLock) is { } free && Release(free), what: "agent.lock to be released by the kernel");
        Assert.Equal(RunStatus.Running, lab.Store.Get(id).Run.Status);
        (int exit, string output, _) = await _cli.Run("show", id, "--json");

        Assert.Equal(0, exit);
        Run run = System.Text.Json.JsonSerializer.Deserialize(output, ContractJson.Default.Run)!;
        Assert.Equal((RunStatus.Interrupted, ErrorCodes.AgentLost), (run.Status, run.ErrorCode));
        Assert.NotNull(run.EndedAt);
        await Eventually.True(() => Processes.WithArgument($"sleep {sleep}").Count == 0 && Processes.WithArgument($"sleep {sleep + 1}").Count == 0,
            within: TimeSpan.FromSeconds(5), what: "the orphaned test processes to be gone");
    }

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
            within: TimeSpan.FromSeconds(15), what: "the idle agent to exit");
        (int again, _, _) = await _cli.Run("run", _cli.MakeTest("quick-again", "exit 0"), "--machine", "local-1", "--wait");

        Assert.Equal(0, again);
        Assert.Contains("exiting", await File.ReadAllTextAsync(lab.Store.Paths.AgentLog), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_agent_stops_its_tests_as_agent_lost_starts_nothing_more_and_exits_cleanly()
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string marker = _cli.Combine("second-started");
        string plan = _cli.Combine("plan.json");
        _cli.MakeTest("long", $"sleep {sleep}");
        _cli.MakeTest("after", $"touch '{marker}'");
        await File.WriteAllTextAsync(plan, """
            { "entries": [ { "test_dir": "tests/long", "machine": "local-1", "retries": 1 },
                           { "test_dir": "tests/after", "machine": "local-1" } ] }
            """);
        Lab withoutAgent = _cli.OpenLab(startsAgents: false);
        string batch = (await withoutAgent.SubmitBatchAsync(plan)).Id;
        CommandTask<BufferedCommandResult> agent = Agent().ExecuteBufferedAsync();
        RunRecord running = await Eventually.Get(() => withoutAgent.Store.List(new RunFilter(BatchId: batch)) is [{ Process: not null } r] ? r : null,
            what: "the long entry to start");
        await Eventually.True(() => Processes.WithArgument($"sleep {sleep}").Count > 0, what: "the test's sleep");

        await Cli.Wrap("kill").WithArguments(["-TERM", agent.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ExecuteAsync();
        BufferedCommandResult stopped = await agent.Task.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(stopped.ExitCode == 0, stopped.StandardOutput + stopped.StandardError);
        Assert.Contains("exiting", stopped.StandardOutput, StringComparison.Ordinal);
        Run run = withoutAgent.Store.Get(running.Id).Run;
        Assert.Equal((RunStatus.Interrupted, ErrorCodes.AgentLost), (run.Status, run.ErrorCode));
        Assert.Single(withoutAgent.Store.List(new RunFilter(BatchId: batch)));
        Assert.False(File.Exists(marker));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    private static bool Release(IDisposable held)
    {
        held.Dispose();
        return true;
    }
}
