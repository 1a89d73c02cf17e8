using System.Text.Json;
using CliWrap.Buffered;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Transports;

/// <summary>
/// The slurm transport against the real test cluster (docs/SLURM-FACTS.md), through the real CLI and a real agent: machines n1,
/// n2, n3 (one node each, tag <c>slurm</c>) and a pool of the <c>fast</c> nodes, all with their run dirs in one work root the
/// "nodes" (this host) share. Tests wait on files they create, never on a clock.
/// </summary>
[Trait("Category", "Integration")]
[Collection(SlurmCollection.Name)]
public sealed class SlurmTransportTests : IAsyncLifetime
{
    private readonly SlurmCluster _cluster;
    private readonly string _workRoot;
    private readonly CliHarness _cli;

    public SlurmTransportTests(SlurmCluster cluster)
    {
        _cluster = cluster;
        // The agents the CLI starts inherit this: they reach the test cluster and no other.
        Environment.SetEnvironmentVariable("SLURM_CONF", cluster.ConfPath);
        _workRoot = Path.Combine(cluster.JobsDir, $"work root 'it''s' $HOME; {Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(_workRoot);
        _cli = new CliHarness(machinesJson: MachinesJson(_workRoot));
    }

    /// <summary>Machines n1, n2, n3 (tag <c>slurm</c>) and the pool <c>fast</c>, their run dirs in <paramref name="workRoot"/>.</summary>
    private static string MachinesJson(string workRoot)
    {
        string root = JsonSerializer.Serialize(workRoot);
        return $$"""
            [ { "Name": "n1", "Transport": "slurm", "Node": "n1", "Partition": "lab", "WorkRoot": {{root}}, "Tags": ["slurm"] },
              { "Name": "n2", "Transport": "slurm", "Node": "n2", "Partition": "lab", "WorkRoot": {{root}}, "Tags": ["slurm"] },
              { "Name": "n3", "Transport": "slurm", "Node": "n3", "Partition": "lab", "WorkRoot": {{root}}, "Tags": ["slurm"] },
              { "Name": "fast", "Transport": "slurm", "Partition": "lab", "Constraint": "fast", "WorkRoot": {{root}} } ]
            """;
    }

    /// <summary>A test that prints when it started and ended (ns since the epoch, by the node's clock) and its node, after <paramref name="body"/>.</summary>
    private static string Timed(string body = "sleep 0.3") => $"s=$(date +%s%N)\n{body}\necho \"$s $(date +%s%N) $SLURMD_NODENAME\"";

    /// <summary>Fails if two of the tests' own (start, end, node) lines overlap on one node.</summary>
    private static void NoOverlapOnAnyNode(IEnumerable<string> logs)
    {
        (long Start, long End, string Node)[] spans = [.. logs.Select(log => log.Trim().Split('\n')[^1].Split(' '))
            .Select(f => (long.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), f[2]))];
        foreach (IGrouping<string, (long Start, long End, string Node)> node in spans.GroupBy(s => s.Node))
        {
            (long Start, long End, string Node)[] ordered = [.. node.OrderBy(s => s.Start)];
            for (int i = 1; i < ordered.Length; i++)
            {
                Assert.True(ordered[i].Start >= ordered[i - 1].End, $"two tests overlapped on {node.Key}: {string.Join(", ", ordered.Select(s => $"{s.Start}-{s.End}"))}");
            }
        }
    }

    public async Task InitializeAsync() => await _cluster.Reset();

    public Task DisposeAsync()
    {
        _cli.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>A test that prints a line, waits for its release file, prints another and exits <paramref name="exit"/>.</summary>
    private (string TestDir, string Release) Waiting(string name, int exit = 0)
    {
        string release = _cli.Combine($"release-{name}");
        return (_cli.MakeTest(name, $"echo first\nwhile [ ! -e '{release}' ]; do sleep 0.05; done\necho second\nexit {exit}"), release);
    }

    private async Task<string> DispatchAsync(params string[] args)
    {
        (int exit, string output, string error) = await _cli.Run(["run", .. args]);
        CliHarness.AssertNoStackTrace(error);
        Assert.True(exit == 0, $"run failed ({exit}): {error}");
        return output.Trim();
    }

    private async Task<Run> EndedAsync(string id) => await _cli.OpenLab().WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(60));

    private async Task<RunRecord> StartedAsync(string id) =>
        await Eventually.Get(() => _cli.OpenLab().Store.Get(id) is { Process.ProcessGroupId: > 0 } r ? r : null, TimeSpan.FromSeconds(30), $"run {id} to start");

    /// <summary>The run's job as squeue shows it (every state), null once Slurm has none of that name.</summary>
    private async Task<string?> JobState(string runId)
    {
        BufferedCommandResult squeue = await _cluster.Run("squeue", "-h", "-t", "all", "--name", $"td-{runId}", "-o", "%T");
        return squeue.StandardOutput.Trim() is { Length: > 0 } state ? state : null;
    }

    private async Task JobOver(string runId)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await JobState(runId) is "PENDING" or "RUNNING" or "COMPLETING" or "CONFIGURING")
        {
            Assert.True(DateTime.UtcNow < deadline, $"the job of run {runId} is still on");
            await Task.Delay(100);
        }
    }

    /// <summary>What the agents said, and the cluster's logs, for a failure message.</summary>
    private string AgentLog() => "\nagent log:\n" + (File.Exists(_cli.OpenLab().Store.Paths.AgentLog) ? File.ReadAllText(_cli.OpenLab().Store.Paths.AgentLog) : "") +
        "\ncluster:\n" + _cluster.Logs();

    private async Task NothingLeftOf(Run run)
    {
        Assert.Empty(SshTransportTests.ProcessesOf(run.Id));
        // The run dir goes just after the verdict is recorded.
        await Eventually.True(() => !Directory.Exists(Path.Combine(_workRoot, run.Id)), TimeSpan.FromSeconds(10), $"the run dir of {run.Id} to leave the work root");
    }

    [Fact]
    public async Task A_pass_and_a_failure_run_as_jobs_with_their_log_and_artifacts_and_leave_nothing()
    {
        string pass = _cli.MakeTest("pass", "echo \"on $SLURMD_NODENAME as $TESTDISPATCH_RUN_ID\"\necho report > \"$TESTDISPATCH_ARTIFACTS/report.txt\"");
        string fail = _cli.MakeTest("fail", "echo failing >&2; exit 3");

        (int passExit, _, string passErr) = await _cli.Run("run", pass, "--machine", "n2", "--wait");
        (int failExit, _, _) = await _cli.Run("run", fail, "--machine", "fast", "--wait");

        Assert.True(passExit == 0, passErr + AgentLog());
        Assert.Equal(ExitCodes.TestFailed, failExit);
        IReadOnlyList<RunRecord> runs = _cli.OpenLab().Store.List();
        RunRecord passed = runs.Single(r => r.Run.TestDir == pass);
        RunRecord failed = runs.Single(r => r.Run.TestDir == fail);
        Assert.Equal((RunStatus.Completed, 0, "n2"), (passed.Run.Status, passed.Run.ExitCode, passed.Run.Node));
        Assert.Equal((RunStatus.Failed, 3, ""), (failed.Run.Status, failed.Run.ExitCode, failed.Run.ErrorCode));
        Assert.Matches("^n[12]$", failed.Run.Node); // the pool's node, recorded
        Assert.Equal($"on n2 as {passed.Id}\n", await File.ReadAllTextAsync(passed.Run.LogsPath));
        Assert.Equal("failing\n", await File.ReadAllTextAsync(failed.Run.LogsPath));
        Assert.Equal("report\n", await File.ReadAllTextAsync(Path.Combine(passed.Run.ArtifactsPath, "report.txt")));
        await NothingLeftOf(passed.Run);
        await NothingLeftOf(failed.Run);
    }

    [Fact]
    public async Task Reports_the_manifest_names_in_the_work_dir_are_read_for_a_job_and_a_symlinked_one_is_not()
    {
        string test = _cli.MakeTest("reports", """
            mkdir -p "out/it's \"here\"" elsewhere
            printf '<testsuite name="job"><testcase name="reads"/><testcase name="breaks"><failure message="broke"/></testcase></testsuite>' > "out/it's \"here\"/junit.xml"
            printf '<testsuite name="secret"><testcase name="not_read"/></testsuite>' > elsewhere/secret.xml
            ln -s ../elsewhere/secret.xml out/linked.xml
            exit 1
            """);
        File.WriteAllText(Path.Combine(test, "testdispatch.json"), """{ "results": ["out/**/*.xml"] }""");

        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "n1", "--wait", "--json");
        JsonElement run = JsonDocument.Parse(output).RootElement;
        (int shown, string tests, string showError) = await _cli.Run("show", run.GetProperty("id").GetString()!, "--tests", "--json");

        Assert.True(exit == ExitCodes.TestFailed, $"exit {exit}: {error}{AgentLog()}");
        Assert.True(shown == ExitCodes.Passed, showError);
        Assert.Equal("""{"total":2,"passed":1,"failed":1,"errors":0,"skipped":0,"flaky":0}""", JsonSerializer.Serialize(run.GetProperty("tests")));
        Assert.Equal(["breaks", "reads"], JsonDocument.Parse(tests).RootElement.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        await NothingLeftOf(_cli.OpenLab().Store.Get(run.GetProperty("id").GetString()!).Run);
    }

    [Fact]
    public async Task The_log_is_followed_while_the_job_runs_and_a_cancel_stops_the_test_ends_the_job_and_leaves_nothing()
    {
        (string test, _) = Waiting("follow");

        string id = await DispatchAsync(test, "--machine", "n1");
        RunRecord started = await StartedAsync(id);
        await Eventually.True(() => File.Exists(started.Run.LogsPath) && File.ReadAllText(started.Run.LogsPath) == "first\n",
            TimeSpan.FromSeconds(30), "the first line in the controller's log while the test runs");
        string? whileRunning = await JobState(id);
        (int cancelExit, _, string cancelError) = await _cli.Run("cancel", id);
        Run cancelled = await EndedAsync(id);

        Assert.Equal("RUNNING", whileRunning);
        Assert.True(cancelExit == 0, cancelError);
        Assert.Equal((RunStatus.Interrupted, ErrorCodes.Interrupted), (cancelled.Status, cancelled.ErrorCode));
        await JobOver(id);
        await NothingLeftOf(cancelled);
    }

    [Fact]
    public async Task A_test_past_its_time_limit_is_stopped_as_timeout()
    {
        string test = _cli.MakeTest("hangs", "setsid sleep 300 &\necho started\nsleep 300");

        string id = await DispatchAsync(test, "--machine", "n3", "--timeout", "2s");
        Run ended = await EndedAsync(id);

        Assert.Equal((RunStatus.Timeout, ErrorCodes.Timeout), (ended.Status, ended.ErrorCode));
        await JobOver(id);
        await NothingLeftOf(ended);
    }

    [Fact]
    public async Task A_job_cancelled_behind_our_back_is_an_infrastructure_error_and_nothing_of_it_is_left()
    {
        (string test, _) = Waiting("scancelled");

        string id = await DispatchAsync(test, "--machine", "n2");
        await StartedAsync(id);
        await _cluster.Run("scancel", "--name", $"td-{id}");
        Run ended = await EndedAsync(id);

        Assert.Equal((RunStatus.Failed, ErrorCodes.JobLost), (ended.Status, ended.ErrorCode));
        Assert.True(ended.ErrorMsg.Contains("cancelled in Slurm by someone else", StringComparison.Ordinal), ended.ErrorMsg + AgentLog());
        Assert.True(ErrorCodes.IsRetryable(ended.ErrorCode));
        await JobOver(id);
        await NothingLeftOf(ended);
    }

    [Fact]
    public async Task A_run_whose_node_is_taken_is_pending_with_slurms_reason_and_starts_when_the_node_is_free()
    {
        string hold = _cli.Combine("hold-n1");
        string script = _cli.Combine("hold.sh");
        await File.WriteAllTextAsync(script, $"#!/bin/sh\nwhile [ ! -e '{hold}' ]; do sleep 0.05; done\n");
        BufferedCommandResult other = await _cluster.Run("sbatch", "--parsable", "-w", "n1", "-N1", "--exclusive", "-o", "/dev/null", script);
        Assert.True(other.ExitCode == 0, other.StandardError);
        string test = _cli.MakeTest("after", "echo ran");

        string id = await DispatchAsync(test, "--machine", "n1");
        RunRecord waiting = await Eventually.Get(() => _cli.OpenLab().Store.Get(id) is { Run.ErrorMsg: var m } r && m.Contains("(Resources)", StringComparison.Ordinal) ? r : null,
            TimeSpan.FromSeconds(30), "the run to wait for Slurm's Resources");
        DateTimeOffset released = DateTimeOffset.UtcNow;
        await File.WriteAllTextAsync(hold, "");
        Run ended = await EndedAsync(id);

        Assert.Equal((RunStatus.Pending, ErrorCodes.MachineBusyElsewhere, null), (waiting.Run.Status, waiting.Run.ErrorCode, waiting.Run.StartedAt));
        Assert.Equal((RunStatus.Completed, "ran\n"), (ended.Status, await File.ReadAllTextAsync(ended.LogsPath)));
        Assert.True(ended.StartedAt >= released.AddSeconds(-1), $"started_at {ended.StartedAt:O} is when the test started, after the node was freed at {released:O}");
    }

    [Fact]
    public async Task An_agent_killed_mid_job_is_followed_by_the_next_which_records_the_exact_verdict()
    {
        (string test, string release) = Waiting("survivor", exit: 3);

        string id = await DispatchAsync(test, "--machine", "n3");
        RunRecord running = await StartedAsync(id);
        System.Diagnostics.Process.GetProcessById(running.Process!.AgentPid).Kill();
        await Eventually.True(() => !Directory.Exists($"/proc/{running.Process.AgentPid}"), TimeSpan.FromSeconds(10), "the agent to die");
        await File.WriteAllTextAsync(release, "");
        await _cli.Run("list"); // a client: it starts the next agent
        Run ended = await EndedAsync(id);

        Assert.Equal((RunStatus.Failed, 3, ""), (ended.Status, ended.ExitCode, ended.ErrorCode));
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
        await NothingLeftOf(ended);
    }

    [Fact]
    public async Task A_batch_of_12_by_tag_spreads_over_the_three_nodes_and_never_runs_two_tests_on_one_node_at_once()
    {
        string test = _cli.MakeTest("short", Timed());
        string plan = _cli.Combine("plan.json");
        await File.WriteAllTextAsync(plan, JsonSerializer.Serialize(new
        {
            name = "spread",
            entries = Enumerable.Range(0, 12).Select(i => new { name = $"t{i}", test_dir = test, tags = new[] { "slurm" } }),
        }));

        (int exit, string output, string error) = await _cli.Run("batch", "submit", plan, "--wait");

        Assert.True(exit == 0, $"{output}\n{error}{AgentLog()}");
        RunRecord[] runs = [.. _cli.OpenLab().Store.List().Where(r => r.Run.BatchId is not null)];
        Assert.Equal(12, runs.Length);
        Assert.All(runs, r => Assert.Equal(RunStatus.Completed, r.Run.Status));
        Assert.All(runs, r => Assert.Equal(r.Run.Machine, r.Run.Node));
        NoOverlapOnAnyNode(runs.Select(r => File.ReadAllText(r.Run.LogsPath)));
        Assert.Equal(["n1", "n2", "n3"], runs.Select(r => r.Run.Node).Distinct().Order());
    }

    [Fact]
    public async Task A_job_cancelled_behind_our_back_in_a_batch_is_retried_and_the_entry_passes_on_its_retry()
    {
        string tried = _cli.Combine("tried");
        string test = _cli.MakeTest("retried", $"if [ -e '{tried}' ]; then echo retried; exit 0; fi\ntouch '{tried}'\nwhile :; do sleep 0.05; done");
        string plan = _cli.Combine("plan.json");
        await File.WriteAllTextAsync(plan, JsonSerializer.Serialize(new
        {
            name = "retry",
            entries = new[] { new { name = "scancelled", test_dir = test, tags = new[] { "slurm" }, retries = 1 } },
        }));

        Task<(int Exit, string Out, string Err)> batch = _cli.Run("batch", "submit", plan, "--wait");
        RunRecord first = await Eventually.Get(() => File.Exists(tried) ? _cli.OpenLab().Store.List().SingleOrDefault() : null,
            TimeSpan.FromSeconds(30), "the entry's first try to start");
        BufferedCommandResult scancel = await _cluster.Run("scancel", "--name", $"td-{first.Id}");
        (int exit, string output, string error) = await batch.WaitAsync(TimeSpan.FromSeconds(90));

        Assert.True(scancel.ExitCode == 0, scancel.StandardError);
        Assert.True(exit == 0, $"{output}\n{error}{AgentLog()}");
        Run[] tries = [.. _cli.OpenLab().Store.List().Select(r => r.Run).OrderBy(r => r.StartedAt)];
        Assert.Equal(2, tries.Length);
        Assert.Equal((RunStatus.Failed, ErrorCodes.JobLost), (tries[0].Status, tries[0].ErrorCode));
        Assert.Equal((RunStatus.Completed, "retried\n"), (tries[1].Status, await File.ReadAllTextAsync(tries[1].LogsPath)));
        await JobOver(tries[0].Id);
        await NothingLeftOf(tries[0]);
        await NothingLeftOf(tries[1]);
    }

    [Fact]
    public async Task A_run_whose_slurmctld_is_down_for_20s_ends_with_its_wrappers_verdict_once_it_is_back()
    {
        (string test, string release) = Waiting("outage", exit: 3);
        string id = await DispatchAsync(test, "--machine", "n1");
        await StartedAsync(id);

        await _cluster.StopController();
        DateTimeOffset stopped = DateTimeOffset.UtcNow;
        await Eventually.True(() => AgentLog().Contains($"could not look at the run in {Path.Combine(_workRoot, id)}", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the agent to find Slurm not answering");
        await File.WriteAllTextAsync(release, "");
        await Eventually.True(() => _cluster.JobProcesses().Count == 0, TimeSpan.FromSeconds(30), "the job to end on its node while slurmctld is down");
        Run during = _cli.OpenLab().Store.Get(id)!.Run;
        // The outage lasts 20 s in all (several of the agent's failed looks, with their back-off).
        await Task.Delay(stopped.AddSeconds(20) - DateTimeOffset.UtcNow is { Ticks: > 0 } left ? left : TimeSpan.Zero);
        await _cluster.StartController();
        Run ended = await EndedAsync(id);

        Assert.Equal(RunStatus.Running, during.Status);
        Assert.Equal((RunStatus.Failed, 3, ""), (ended.Status, ended.ExitCode, ended.ErrorCode));
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
        await NothingLeftOf(ended);
    }

    [Fact]
    public async Task Two_state_dirs_dispatching_to_one_node_never_run_there_at_once()
    {
        using CliHarness other = new(machinesJson: MachinesJson(_workRoot));
        CliHarness[] labs = [_cli, other, _cli, other];

        // Distinct tests: the same one dispatched again to the same machine would follow the run already there.
        (int Exit, string Out, string Err)[] dispatched = await Task.WhenAll(labs.Select((lab, i) =>
            lab.Run("run", lab.MakeTest($"t{i}", Timed($"sleep 0.3 # test {i}")), "--machine", "n2", "--queue")));
        Assert.All(dispatched, d => Assert.True(d.Exit == 0, d.Err));
        Run[] ended = await Task.WhenAll(dispatched.Select((d, i) => labs[i].OpenLab().WaitAsync(d.Out.Trim()).WaitAsync(TimeSpan.FromSeconds(90))));

        Assert.All(ended, r => Assert.Equal((RunStatus.Completed, "n2"), (r.Status, r.Node)));
        NoOverlapOnAnyNode(ended.Select(r => File.ReadAllText(r.LogsPath)));
    }

    [Fact]
    public async Task Hostile_test_dir_and_work_root_names_run_as_they_are()
    {
        string test = _cli.MakeTest("it's a $x; `y` \"z\"", "pwd\necho ok");

        (int exit, _, string error) = await _cli.Run("run", test, "--machine", "n1", "--wait");

        Assert.True(exit == 0, error);
        Run run = _cli.OpenLab().Store.List().Single().Run;
        Assert.Equal($"{Path.Combine(_workRoot, run.Id, "work")}\nok\n", await File.ReadAllTextAsync(run.LogsPath));
        await NothingLeftOf(run);
    }

    [Fact]
    public async Task Machines_and_the_apps_machines_tab_show_who_holds_a_node_with_slurms_state()
    {
        string hold = _cli.Combine("hold-n1");
        string script = _cli.Combine("hold.sh");
        await File.WriteAllTextAsync(script, $"#!/bin/sh\nwhile [ ! -e '{hold}' ]; do sleep 0.05; done\n");
        BufferedCommandResult other = await _cluster.Run("sbatch", "--parsable", "-w", "n1", "-N1", "--exclusive", "--job-name", "nightly|soak",
            "-o", "/dev/null", script);
        Assert.True(other.ExitCode == 0, other.StandardError);
        string job = other.StandardOutput.Trim();
        string held = $"n1 allocated: job {job} (nightly|soak) of {Environment.UserName}";
        for (DateTime deadline = DateTime.UtcNow.AddSeconds(30); await _cluster.NodeState("n1") != "allocated"; await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "the other job never held n1");
        }

        (int exit, string machines, string error) = await _cli.Run("machines");
        ScreenData screen = await ScreenData.LoadAsync(_cli.OpenLab(startsAgents: false), new ScreenQuery());
        MachinesTable tab = new(screen.Machines);
        await File.WriteAllTextAsync(hold, "");

        Assert.True(exit == 0, error);
        Assert.Contains($"n1: Slurm: {held}", machines, StringComparison.Ordinal);
        Assert.Contains($"fast: Slurm: {held}, n2 idle", machines, StringComparison.Ordinal);
        List<string> rows = [.. screen.Machines.Select(m => m.Name)];
        Assert.Equal($"Slurm: {held}", tab.Cell(rows.IndexOf("n1"), tab.Columns.Count - 1));
        Assert.Equal("Slurm: n3 idle", tab.Cell(rows.IndexOf("n3"), tab.Columns.Count - 1));
    }

    [Fact]
    public async Task Machines_shows_a_drained_node_with_its_reason_and_doctor_checks_slurm_and_the_work_root()
    {
        await _cluster.Drain("n3", "td: maintenance");

        (int machinesExit, string machines, string machinesError) = await _cli.Run("machines");
        (_, string doctor, string doctorError) = await _cli.Run("doctor");

        Assert.True(machinesExit == 0, machinesError);
        Assert.Contains("n3: Slurm: n3 drained (td: maintenance)", machines, StringComparison.Ordinal);
        Assert.Contains("n1: Slurm: n1 idle", machines, StringComparison.Ordinal);
        Assert.Contains("fast: Slurm: n1 idle, n2 idle", machines, StringComparison.Ordinal);
        Assert.Contains("slurmctld answers (scontrol ping)", doctor + doctorError, StringComparison.Ordinal);
        Assert.Contains($"work root {_workRoot} is writable", doctor + doctorError, StringComparison.Ordinal);
        Assert.Contains("Slurm has node n1 in partition lab: n1", doctor + doctorError, StringComparison.Ordinal);
    }
}
