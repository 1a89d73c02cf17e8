using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Configuration;

/// <summary>
/// One rule for which configuration governs a run: the configuration of the command that dispatched it (for a batch, of the
/// command that submitted it), whatever the agent was started with; and the last command that gave the agent work decides
/// the agent's own configuration, so the machines and batches it knows are served.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ConfigurationRuleTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary>
    /// A second configuration file for the harness's state dir: same machines unless told, other defaults. Its local machines
    /// lock in the harness's own directory, as the harness's do, so tests running at once never hold each other's machines.
    /// </summary>
    private string OtherConfig(string name, string defaults, string? machinesJson = null)
    {
        string path = _cli.Combine(name);
        string machines = _cli.OwnLocks(machinesJson ?? """
            [ { "Name": "local-1", "Transport": "local", "Tags": ["local"] },
              { "Name": "local-2", "Transport": "local", "Tags": ["local"] } ]
            """);
        File.WriteAllText(path, $$"""
            { "TestDispatch": { "Defaults": { {{defaults}} }, "Machines": {{machines}} } }
            """);
        return path;
    }

    [Fact]
    public async Task A_run_follows_the_kill_grace_and_log_limit_of_the_command_that_dispatched_it_not_the_agents()
    {
        // The harness's configuration (the agent's here) says KillGrace 1s and the default log limit; the dispatching
        // command's says 3s and 5 MiB.
        string dispatcher = OtherConfig("dispatcher.json", """ "AgentIdle": "3s", "KillGrace": "3s", "LogLimit": "5MiB" """);
        int marker = Random.Shared.Next(100_000, 999_999);
        string test = _cli.MakeTest("long", $"sleep {marker}");
        Lab lab = Lab.Open(LabConfigLoader.Load(ConfigSources.ForThisProcess(dispatcher, _cli.StateDir)));
        Run run = (await lab.DispatchAsync(test, "local-1")).Run;

        Task<BufferedCommandResult> agent = Cli.Wrap(CliHarness.Program[0])
            .WithArguments(["agent", "--state-dir", _cli.StateDir, "--config", _cli.ConfigFile])
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token);
        await Eventually.True(() => Processes.WithArgument($"sleep {marker}").Count == 1, TimeSpan.FromSeconds(30), "the test to start");
        string[] wrapper = WrapperArguments(run.Id);
        (int _, string shown, string _) = await _cli.Run("show", run.Id);
        await _cli.Run("cancel", run.Id);
        BufferedCommandResult agentEnd = await agent;

        int at = Array.IndexOf(wrapper, run.Id);
        Assert.True(at > 0, string.Join(' ', wrapper));
        Assert.Equal(("3000", (5L << 20).ToString(System.Globalization.CultureInfo.InvariantCulture)), (wrapper[at + 1], wrapper[at + 3]));
        string row = shown.Split('\n').Single(l => l.StartsWith("configuration", StringComparison.Ordinal));
        Assert.Contains(Path.GetFullPath(dispatcher), row, StringComparison.Ordinal);
        Assert.Contains("kill grace 3s", row, StringComparison.Ordinal);
        Assert.Contains("log limit 5.0 MiB", row, StringComparison.Ordinal);
        Assert.True(agentEnd.ExitCode == 0, $"the agent exited {agentEnd.ExitCode}: {agentEnd.StandardOutput}{agentEnd.StandardError}");
        Assert.Equal(RunStatus.Interrupted, lab.Show(run.Id).Status);
        Assert.Empty(Processes.CarryingRun(run.Id));
    }

    [Fact]
    public async Task A_batch_submitted_under_another_configuration_than_the_running_agents_is_run_by_an_agent_handed_over_to_it()
    {
        // An agent started by a command whose configuration knows only "bench-1", kept busy by a long run there.
        string benchOnly = OtherConfig("bench.json", """ "AgentIdle": "3s", "KillGrace": "1s" """,
            """[ { "Name": "bench-1", "Transport": "local", "Tags": ["bench"] } ]""");
        int marker = Random.Shared.Next(100_000, 999_999);
        string longTest = _cli.MakeTest("long", $"sleep {marker}");
        (int dispatched, string dispatchOut, string dispatchErr) = await _cli.RunWithConfig(benchOnly, "run", longTest, "--machine", "bench-1", "--json");
        Assert.True(dispatched == 0, dispatchOut + dispatchErr);
        string benchRun = System.Text.Json.JsonDocument.Parse(dispatchOut).RootElement.GetProperty("id").GetString()!;
        await Eventually.True(() => Processes.WithArgument($"sleep {marker}").Count == 1, TimeSpan.FromSeconds(30), "the bench test to start");

        (_, string doctor, _) = await _cli.Run("doctor");

        // A plain command (the harness's configuration: local-1 and local-2) submits a batch for machines tagged "local".
        _cli.MakeTest("quick", "echo quick");
        string plan = _cli.Combine("tests", "plan.json");
        File.WriteAllText(plan, """{ "name": "nightly", "entries": [ { "name": "a", "test_dir": "quick", "tags": ["local"] }, { "name": "b", "test_dir": "quick", "tags": ["local"] } ] }""");
        using CancellationTokenSource bound = new(TimeSpan.FromSeconds(45));
        (int submitted, string submitOut, string submitErr) = await _cli.Run(["batch", "submit", plan, "--wait", "--json"], bound.Token);

        // The run already going on bench-1 is taken over by the new agent, and its cancel still stops its test.
        (int cancelled, _, string cancelErr) = await _cli.RunWithConfig(benchOnly, "cancel", benchRun);
        Run bench = _cli.OpenLab(startsAgents: false).Show(benchRun);

        Assert.Contains(Path.GetFullPath(_cli.ConfigFile), doctor.Split('\n').First(l => l.Contains(" config ", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains(Path.GetFullPath(benchOnly), doctor.Split('\n').First(l => l.StartsWith("it runs with the configuration from ", StringComparison.Ordinal)),
            StringComparison.Ordinal);
        Assert.True(submitted == 0, submitOut + submitErr);
        Assert.Contains("\"completed\":2", submitOut.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.True(cancelled == 0, cancelErr);
        Assert.Equal(RunStatus.Interrupted, bench.Status);
        await Eventually.True(() => Processes.WithArgument($"sleep {marker}").Count == 0, TimeSpan.FromSeconds(15), "the bench test to be stopped");
    }

    [Fact]
    public async Task A_run_dispatched_under_another_configuration_does_not_take_the_agent_from_a_batch_for_machines_it_does_not_know()
    {
        // A batch for "x-3", a machine only the submitter's configuration knows; then a plain command dispatches one run.
        string withX = OtherConfig("x.json", """ "AgentIdle": "3s", "KillGrace": "1s" """, """
            [ { "Name": "local-1", "Transport": "local", "Tags": ["local"] }, { "Name": "x-3", "Transport": "local", "Tags": ["x"] } ]
            """);
        string release = _cli.Combine("release");
        _cli.MakeTest("second", $"while [ ! -e '{release}' ]; do sleep 0.05; done");
        string plan = _cli.Combine("tests", "x-plan.json");
        File.WriteAllText(plan, """{ "name": "x", "entries": [ { "name": "a", "test_dir": "second", "tags": ["x"] }, { "name": "b", "test_dir": "second", "tags": ["x"] } ] }""");
        (int submitted, string submitOut, string submitErr) = await _cli.RunWithConfig(withX, "batch", "submit", plan, "--json");
        Assert.True(submitted == 0, submitOut + submitErr);
        string batch = System.Text.Json.JsonDocument.Parse(submitOut).RootElement.GetProperty("id").GetString()!;
        Lab reader = _cli.OpenLab(startsAgents: false);
        await Eventually.True(() => reader.ShowBatch(batch).Counts.Running == 1, TimeSpan.FromSeconds(30), "the batch's first entry to start");

        (int ran, string runOut, string runErr) = await _cli.Run("run", _cli.MakeTest("quick", "echo quick"), "--machine", "local-1", "--wait");
        string serving = File.ReadAllLines(Path.Combine(_cli.StateDir, "agent.config"))[1];
        File.WriteAllText(release, "");

        Engine.Batches.Batch done;
        try
        {
            done = await Eventually.Get(() => reader.ShowBatch(batch) is { IsTerminal: true } b ? b : null, TimeSpan.FromSeconds(45),
                "the batch to end with nobody typing under its configuration");
        }
        catch (TimeoutException e)
        {
            (_, string shown, _) = await _cli.Run("batch", "show", batch, "--json");
            throw new TimeoutException($"{e.Message}; serving: {serving}{Environment.NewLine}{shown}{Environment.NewLine}agent.log:{Environment.NewLine}{_cli.AgentLogTail()}", e);
        }
        Assert.True(ran == 0, runOut + runErr);
        Assert.Contains(Path.GetFullPath(withX), serving, StringComparison.Ordinal); // the run was served without a hand-over
        Assert.Equal(2, done.Counts.Completed);
    }

    [Fact]
    public async Task Doctor_names_a_configuration_file_with_control_characters_in_its_name_without_steering_the_terminal()
    {
        string odd = OtherConfig("odd\nname\u001b[31mRED.json", """ "AgentIdle": "3s" """);

        (_, string doctor, _) = await _cli.RunWithConfig(odd, "doctor");

        Assert.DoesNotContain('\u001b', doctor);
        Assert.Contains(@"name\x1b[31mRED.json", doctor, StringComparison.Ordinal); // a newline in it may start a line, never steer
    }

    /// <summary>The run wrapper's arguments: sh SCRIPT run RUN_DIR RUN_ID GRACE_MS LIMIT_MS LOG_BYTES ...</summary>
    private static string[] WrapperArguments(string runId)
    {
        foreach (int pid in Processes.WithArgument(runId))
        {
            string[] args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            int at = Array.IndexOf(args, runId);
            if (at >= 2 && args[at - 2] == "run")
            {
                return args;
            }
        }
        throw new InvalidOperationException($"no wrapper process for run {runId}");
    }
}
