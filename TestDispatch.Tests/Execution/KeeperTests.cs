using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// An agent that comes back by itself: while runs are active the keeper starts a dead agent again within seconds, with
/// nobody typing a command; a killed keeper is replaced by the agent it kept; with no work both leave after AgentIdle; and
/// agent.lock stays the arbiter, so there is never a second agent.
/// </summary>
[Trait("Category", "Integration")]
public sealed class KeeperTests : IDisposable
{
    private readonly CliHarness _cli = new(defaults: """ "AgentIdle": "3s", "KillGrace": "1s" """);

    public void Dispose() => _cli.Dispose();

    private (string TestDir, string Release) Waiting(string name)
    {
        string release = _cli.Combine($"release-{name}");
        return (_cli.MakeTest(name, $"echo first\nwhile [ ! -e '{release}' ]; do sleep 0.05; done\necho second\nexit 5"), release);
    }

    /// <summary>agent.pid's agent and keeper, when the agent named there is alive.</summary>
    private (int Agent, int Keeper)? Pids()
    {
        string path = Path.Combine(_cli.StateDir, "agent.pid");
        if (!File.Exists(path))
        {
            return null;
        }
        string[] fields = File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return fields.Length == 2 && int.TryParse(fields[0], out int agent) && int.TryParse(fields[1], out int keeper) &&
            Engine.Processes.ProcFs.StartTicks(agent) is not null ? (agent, keeper) : null;
    }

    /// <summary>Waits until agent.pid names a live agent for which <paramref name="condition"/> holds.</summary>
    private async Task<(int Agent, int Keeper)> PidsWhen(Func<(int Agent, int Keeper), bool> condition, string what, int seconds = 20)
    {
        string found = await Eventually.Get(() => Pids() is { } p && condition(p) ? $"{p.Agent} {p.Keeper}" : null, TimeSpan.FromSeconds(seconds), what);
        string[] pids = found.Split(' ');
        return (int.Parse(pids[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(pids[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    private IReadOnlyList<int> Keepers() => Processes.WithArgument(Path.Combine(_cli.StateDir, "keeper.sh"));

    private async Task<RunRecord> StartedAsync(Lab lab, string id) =>
        await Eventually.Get(() => lab.Store.Get(id) is { Process.ProcessGroupId: > 0 } r ? r : null, what: $"run {id} to start");

    [Fact]
    public async Task An_agent_killed_with_a_run_going_is_back_within_seconds_with_nobody_typing_and_records_the_run()
    {
        (string test, string release) = Waiting("kept");
        (int exit, string id, string error) = await _cli.Run("run", test, "--machine", "local-1");
        Assert.True(exit == 0, error);
        Lab reader = _cli.OpenLab(startsAgents: false); // only looks: starts no agent
        await StartedAsync(reader, id.Trim());
        (int agent, int keeper) = await PidsWhen(_ => true, "agent.pid");

        System.Diagnostics.Process.GetProcessById(agent).Kill();
        (int Agent, int Keeper) again = await PidsWhen(p => p.Agent != agent, "a new agent, with nobody typing");
        File.WriteAllText(release, "");
        Run ended = await Eventually.Get(() => reader.Show(id.Trim()) is { Status: var s } r && s.IsTerminal() ? r : null, TimeSpan.FromSeconds(30), "the verdict");

        Assert.True(keeper > 0, "the agent was started under a keeper");
        Assert.Equal(keeper, again.Keeper);
        Assert.Equal((RunStatus.Failed, 5), (ended.Status, ended.ExitCode));
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
        string log = await File.ReadAllTextAsync(Path.Combine(_cli.StateDir, "agent.log"));
        Assert.Contains($"keeper {keeper}: the agent (pid {agent}) ended with status 137", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_keeper_whose_agent_refuses_its_configuration_says_why_in_the_log_and_leaves_instead_of_retrying()
    {
        string config = _cli.Combine("gone.json");
        File.Copy(_cli.ConfigFile, config);
        (string test, string release) = Waiting("config-gone");
        (int exit, string id, string error) = await _cli.RunWithConfig(config, "run", test, "--machine", "local-1");
        Assert.True(exit == 0, error);
        Lab reader = _cli.OpenLab(startsAgents: false);
        await StartedAsync(reader, id.Trim());
        (int agent, int keeper) = await PidsWhen(_ => true, "agent.pid");

        File.Delete(config);
        System.Diagnostics.Process.GetProcessById(agent).Kill();
        await Eventually.True(() => Engine.Processes.ProcFs.StartTicks(keeper) is null, TimeSpan.FromSeconds(20), "the keeper to leave");
        string log = await File.ReadAllTextAsync(Path.Combine(_cli.StateDir, "agent.log"));
        File.WriteAllText(release, "");
        (int waited, _, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait"); // the twin: an agent of the harness's config ends it

        Assert.Contains(config, log, StringComparison.Ordinal); // the agent's own message names the missing file
        Assert.Contains($"keeper {keeper}: the agent", log, StringComparison.Ordinal);
        Assert.Contains("refused its configuration or arguments (status 2", log, StringComparison.Ordinal);
        // Started again once after the kill (a killed agent is what the keeper is for), then not after it refused.
        Assert.Equal(1, log.Split("with work left: starting it again").Length - 1);
        Assert.Equal(1, waited); // exit 5: the test failed, as it does when released
    }

    [Fact]
    public async Task A_killed_keeper_is_replaced_and_with_no_work_left_agent_and_keeper_leave_after_AgentIdle()
    {
        (string test, string release) = Waiting("keeper-gone");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-2");
        Lab reader = _cli.OpenLab(startsAgents: false);
        await StartedAsync(reader, id.Trim());
        (int agent, int keeper) = await PidsWhen(p => p.Keeper > 0, "agent.pid");

        System.Diagnostics.Process.GetProcessById(keeper).Kill();
        (int Agent, int Keeper) successor = await PidsWhen(p => p.Keeper != keeper && p.Keeper > 0, "a new keeper and its agent");
        File.WriteAllText(release, "");
        Run ended = await Eventually.Get(() => reader.Show(id.Trim()) is { Status: var s } r && s.IsTerminal() ? r : null, TimeSpan.FromSeconds(30), "the verdict");
        await Eventually.True(() => Keepers().Count == 0 && Pids() is null, TimeSpan.FromSeconds(30), "agent and keeper to leave once idle");

        Assert.NotEqual(agent, successor.Agent);
        Assert.Equal((RunStatus.Failed, 5), (ended.Status, ended.ExitCode));
    }

    [Fact]
    public async Task A_state_dir_removed_while_the_keeper_waits_to_restart_its_agent_ends_the_keeper()
    {
        (string test, string release) = Waiting("state-gone");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        await StartedAsync(_cli.OpenLab(startsAgents: false), id.Trim());
        (int agent, int keeper) = await PidsWhen(p => p.Keeper > 0, "agent.pid");

        System.Diagnostics.Process.GetProcessById(agent).Kill();
        Directory.Delete(_cli.StateDir, recursive: true); // while the keeper waits to start the agent again
        File.WriteAllText(release, "");

        await Eventually.True(() => Engine.Processes.ProcFs.StartTicks(keeper) is null, TimeSpan.FromSeconds(20), "the keeper to leave the removed state dir");
        Assert.False(Directory.Exists(_cli.StateDir), "no agent made the removed state dir again");
    }

    [Fact]
    public async Task Clients_starting_agents_at_once_never_make_two()
    {
        string test = _cli.MakeTest("quick", "sleep 2");
        Lab[] clients = [.. Enumerable.Range(0, 4).Select(_ => _cli.OpenLab())];

        PrepareOutcome[] runs = await Task.WhenAll(clients.Select((lab, i) => lab.DispatchAsync(test, i % 2 == 0 ? "local-1" : "local-2", queue: true)));
        await Task.WhenAll(clients.Select(lab => lab.EnsureAgentAsync()));
        Lab reader = _cli.OpenLab(startsAgents: false);
        await Eventually.True(() => runs.All(r => reader.Show(r.Run.Id).Status.IsTerminal()), TimeSpan.FromSeconds(60), "every run to end");
        string[] log = await File.ReadAllLinesAsync(Path.Combine(_cli.StateDir, "agent.log"));

        Assert.Single(log, l => l.Contains(" started on ", StringComparison.Ordinal) && l.Contains(" agent ", StringComparison.Ordinal));
        Assert.All(runs, r => Assert.Equal(RunStatus.Completed, reader.Show(r.Run.Id).Status));
    }
}
