using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// What a run's life is made of, through the real CLI with real processes: nothing of a run outlives it, a stop gives
/// the whole grace, the time limit counts the test alone, and the log keeps the test's own order. Each test here
/// reproduces a defect found in the build before the run wrapper.
/// </summary>
[Trait("Category", "Integration")]
[Collection(PidPlacement.Name)]
public sealed class RunLifetimeTests : IDisposable
{
    private readonly CliHarness _cli = new(defaults: """ "AgentIdle": "3s", "KillGrace": "5s" """);

    public void Dispose() => _cli.Dispose();

    private static Run Parse(string json) => JsonSerializer.Deserialize(json, ContractJson.Default.Run)!;

    private static int UniqueSleep() => Random.Shared.Next(100_000, 999_999);

    /// <summary>A test that leaves three children that escape its process group: one setsid'd, one nohup'd and setsid'd, one double-forked.</summary>
    private static string Escapers(int sleep) => $"""
        setsid sleep {sleep} &
        nohup setsid sleep {sleep + 1} >/dev/null 2>&1 &
        ( ( exec setsid sleep {sleep + 2} ) & ) &
        sleep 0.2
        """;

    private static bool NoneLeft(int sleep) => Enumerable.Range(sleep, 3).All(s => Processes.WithArgument($"sleep {s}").Count == 0);

    [Fact]
    public async Task A_test_that_leaves_escaped_children_and_exits_0_completes_at_once_and_none_of_them_survive()
    {
        int sleep = UniqueSleep();
        string test = _cli.MakeTest("escapes", Escapers(sleep) + "\nexit 0");

        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json", "--timeout", "2m");

        Assert.True(exit == ExitCodes.Passed, error);
        Assert.Equal(RunStatus.Completed, Parse(output).Status);
        Assert.True(NoneLeft(sleep), "every escaped child was stopped before the verdict");
    }

    [Fact]
    public async Task Cancel_stops_the_escaped_children_too()
    {
        int sleep = UniqueSleep();
        string test = _cli.MakeTest("escapes-then-waits", Escapers(sleep) + $"\nsleep {sleep + 3}");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        await Eventually.True(() => Processes.WithArgument($"sleep {sleep + 3}").Count > 0, what: "the test to start its children");

        await _cli.Run("cancel", id);
        Run ended = await _cli.OpenLab().WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.Interrupted), (ended.Status, ended.ErrorCode));
        Assert.True(NoneLeft(sleep) && Processes.WithArgument($"sleep {sleep + 3}").Count == 0, "nothing of the cancelled run is alive");
    }

    [Fact]
    public async Task A_timeout_stops_a_test_whose_child_escaped_its_group()
    {
        int sleep = UniqueSleep();
        string test = _cli.MakeTest("escapes-slowly", Escapers(sleep) + $"\nsleep {sleep + 3}");

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-2", "--wait", "--json", "--timeout", "1s");

        Assert.Equal(ExitCodes.Timeout, exit);
        Assert.Equal(RunStatus.Timeout, Parse(output).Status);
        Assert.True(NoneLeft(sleep) && Processes.WithArgument($"sleep {sleep + 3}").Count == 0, "nothing of the timed-out run is alive");
    }

    [Fact]
    public async Task A_cancelled_test_gets_the_whole_kill_grace_for_its_cleanup()
    {
        string cleaned = _cli.Combine("cleaned");
        // The test's shell dies of SIGTERM at once; its child needs a second to clean up, within the 5s grace.
        string test = _cli.MakeTest("slow-cleanup", $$"""
            sh -c 'trap "sleep 1; echo done > {{cleaned}}; exit 0" TERM; while :; do sleep 0.05; done' &
            echo started
            wait
            """);
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        await Eventually.True(() => File.Exists(lab.Store.Get(id).Run.LogsPath) && File.ReadAllText(lab.Store.Get(id).Run.LogsPath).Contains("started",
            StringComparison.Ordinal), what: "the test to start");

        await _cli.Run("cancel", id);
        Run ended = await lab.WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(RunStatus.Interrupted, ended.Status);
        Assert.True(File.Exists(cleaned), "the child's cleanup ran to its end");
    }

    [Fact]
    public async Task Stdout_and_stderr_keep_their_order_in_the_log()
    {
        string test = _cli.MakeTest("interleaved", "i=0; while [ $i -lt 300 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i + 1)); done");

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");

        Assert.Equal(ExitCodes.Passed, exit);
        string[] expected = [.. Enumerable.Range(0, 300).SelectMany(i => new[] { $"out {i}", $"err {i}" })];
        Assert.Equal(expected, await File.ReadAllLinesAsync(Parse(output).LogsPath));
    }

    [Fact]
    public async Task A_time_limit_of_60_days_is_held_and_one_of_more_than_a_year_is_refused_naming_the_maximum()
    {
        string test = _cli.MakeTest("long-limit", "echo fine");

        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json", "--timeout", "60d");
        (int refused, string nothing, string why) = await _cli.Run("run", test, "--machine", "local-1", "--timeout", "400d");

        Assert.True(exit == ExitCodes.Passed, error);
        Assert.Equal(RunStatus.Completed, Parse(output).Status);
        Assert.Equal(TimeSpan.FromDays(60), _cli.OpenLab(startsAgents: false).Store.Get(Parse(output).Id).Spec.Timeout);
        Assert.Equal((ExitCodes.BadInput, ""), (refused, nothing));
        Assert.Contains("--timeout '400d'", why, StringComparison.Ordinal);
        Assert.Contains("365d", why, StringComparison.Ordinal);
        Assert.Single(_cli.OpenLab(startsAgents: false).Store.List());
    }

    [Fact]
    public async Task Logs_follow_and_run_follow_end_with_the_verdict_when_the_agent_died_under_them()
    {
        string release = _cli.Combine("release");
        string test = _cli.MakeTest("outlives", $"echo one\nwhile [ ! -e '{release}' ]; do sleep 0.05; done\necho two\nexit 2");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        RunRecord running = await Eventually.Get(() => lab.Store.Get(id) is { Process.ProcessGroupId: > 0 } r ? r : null, what: "the run to start");
        Task<(int, string, string)> logs = _cli.Run("logs", id, "-f");

        System.Diagnostics.Process.GetProcessById(running.Process!.AgentPid).Kill();
        await File.WriteAllTextAsync(release, "");
        (int exit, string output, _) = await logs.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ExitCodes.TestFailed, exit);
        Assert.Equal("one\ntwo\n", output);
    }

    [Fact]
    public async Task A_run_on_a_machine_the_agent_does_not_know_runs_where_its_client_said()
    {
        string release = _cli.Combine("release");
        (_, string first, _) = await _cli.Run("run", _cli.MakeTest("holds-agent", $"while [ ! -e '{release}' ]; do sleep 0.05; done"), "--machine", "local-1");
        Lab lab = _cli.OpenLab();
        await Eventually.True(() => lab.Store.Get(first.Trim()).Process is not null, what: "the agent to be up with the first configuration");
        string other = _cli.Combine("other.json");
        await File.WriteAllTextAsync(other, """
            { "TestDispatch": { "Machines": [ { "Name": "local-1", "Transport": "local" }, { "Name": "added-later", "Transport": "local" } ] } }
            """);

        (int exit, string output, string error) = await _cli.RunWithConfig(other, "run", _cli.MakeTest("new-machine", "echo ran"), "--machine", "added-later",
            "--wait", "--json");
        await File.WriteAllTextAsync(release, "");

        Assert.True(exit == ExitCodes.Passed, error);
        Assert.Equal(("added-later", RunStatus.Completed, ""), (Parse(output).Machine, Parse(output).Status, Parse(output).ErrorCode));
    }

    [Fact]
    public async Task Dispatching_a_test_again_while_its_run_is_being_cancelled_is_busy_naming_that_run()
    {
        string test = _cli.MakeTest("slow-to-stop", "trap 'sleep 2; exit 1' TERM\necho started\nwhile :; do sleep 0.05; done");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-2");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        await Eventually.True(() => lab.Store.Get(id).Process is not null, what: "the test to start");

        // cancel waits for the run to end, which its trap makes take two seconds: dispatch again meanwhile.
        Task<(int, string, string)> cancel = _cli.Run("cancel", id);
        await Eventually.True(() => lab.Store.Get(id).CancelRequestedAt is not null, what: "the cancel to be asked for");
        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-2");
        await cancel;
        Run cancelled = await lab.WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((ExitCodes.MachineBusy, ""), (exit, output));
        Assert.Contains(id, error, StringComparison.Ordinal);
        Assert.Contains("being cancelled", error, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Interrupted, cancelled.Status);
    }

    [Fact]
    public async Task A_stop_never_signals_a_stranger_that_got_the_number_of_the_runs_ended_process_group()
    {
        // pids wrap within seconds on a busy host (pid_max is 32768 here): once the test's group is gone, the next
        // session leader forked may get its number. A stop still in its grace (an escaper ignores SIGTERM) must not kill
        // it. Found in CI: a tiny test of another lab's batch lost its run wrapper, ending interrupted/agent_lost.
        Assert.True(Environment.UserName == "root", "this test places a process at a chosen pid (/proc/sys/kernel/ns_last_pid), which needs root");
        int sleep = UniqueSleep();
        string test = _cli.MakeTest("leaves-its-number", $"setsid sh -c 'trap \"\" TERM; while :; do sleep 0.1; done' &\nexec sleep {sleep}");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        int group = (await Eventually.Get(() => lab.Store.Get(id) is { Process.ProcessGroupId: > 0 } r ? r : null, what: "the test to start")).Process!.ProcessGroupId;

        string runDir = lab.Store.Get(id).Process!.RunDir;
        Task cancelling = _cli.Run("cancel", id); // returns once the stop is over
        await Eventually.True(() => !Directory.Exists($"/proc/{group}"), what: "the test's group leader to end (the escaper keeps the stop in its grace)");
        using StrangerAt stranger = await StrangerAt.StartAsync(group);
        bool inGrace = !File.Exists(Path.Combine(runDir, "stopped"));
        await cancelling;
        Run ended = await lab.WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(inGrace, "the stranger came while the stop was still in its grace");
        Assert.Equal(RunStatus.Interrupted, ended.Status);
        Assert.True(stranger.Alive, $"the session leader that got pid {group} after the run's group ended was left alone");
    }
}
