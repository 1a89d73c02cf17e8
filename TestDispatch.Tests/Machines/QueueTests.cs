using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Machines;

/// <summary>run --queue through the real CLI, executed by a real agent: a busy machine's queue, first in, first out.</summary>
[Trait("Category", "Integration")]
public sealed class QueueTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private static Run Parse(string json) => JsonSerializer.Deserialize(json, ContractJson.Default.Run)!;

    /// <summary>A test that notes its start and end in <paramref name="trace"/>, and fails if another test runs on the machine meanwhile.</summary>
    private string Traced(string name, string trace, int exit = 0, string before = "") => _cli.MakeTest(name, $"""
        {before}
        mkdir "{trace}.busy" 2>/dev/null || echo "OVERLAP {name}" >> "{trace}"
        echo "start {name}" >> "{trace}"
        sleep 0.2
        echo "end {name}" >> "{trace}"
        rmdir "{trace}.busy"
        exit {exit}
        """);

    /// <summary>Occupies local-1 until <see cref="Release"/>.</summary>
    private async Task<Run> OccupyAsync()
    {
        string gate = _cli.Combine("gate");
        string test = _cli.MakeTest("gate", $"while [ ! -e '{gate}' ]; do sleep 0.05; done");
        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-1", "--json");
        Assert.True(exit == 0, error);
        Run run = Parse(output);
        await Eventually.True(() => _cli.OpenLab(startsAgents: false).Show(run.Id).Status == RunStatus.Running, what: "the gate test to run");
        return run;
    }

    private void Release() => File.WriteAllText(_cli.Combine("gate"), "");

    private async Task<string> QueueAsync(string test)
    {
        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-1", "--queue");
        Assert.True(exit == 0, error);
        Assert.Contains("queued", error, StringComparison.Ordinal);
        return output.Trim();
    }

    [Fact]
    public async Task Three_tests_queued_on_a_busy_machine_run_one_after_another_in_order_each_wait_with_its_own_verdict()
    {
        string trace = _cli.Combine("trace");
        await OccupyAsync();
        string[] tests = [Traced("a", trace), Traced("b", trace, exit: 3), Traced("c", trace)];
        List<string> ids = [];
        foreach (string test in tests)
        {
            ids.Add(await QueueAsync(test));
        }
        (_, string machines, _) = await _cli.Run("machines", "--json");
        using (JsonDocument json = JsonDocument.Parse(machines))
        {
            JsonElement one = json.RootElement[0];
            Assert.Equal(ids, one.GetProperty("queue").EnumerateArray().Select(q => q.GetString()));
            Assert.Equal("busy", one.GetProperty("state").GetString());
        }
        Assert.All(ids, id => Assert.Equal(RunStatus.Pending, _cli.OpenLab(startsAgents: false).Show(id).Status));

        // Dispatching the same test again with --wait is the same queued run: each waiter waits through the queue.
        Task<(int Exit, string Out, string Err)>[] waiters = [.. tests.Select(t => _cli.Run("run", t, "--machine", "local-1", "--queue", "--wait", "--json"))];
        Release();
        (int Exit, string Out, string Err)[] verdicts = await Task.WhenAll(waiters);

        Assert.Equal([ExitCodes.Passed, ExitCodes.TestFailed, ExitCodes.Passed], verdicts.Select(v => v.Exit));
        Assert.Equal(ids, verdicts.Select(v => Parse(v.Out).Id)); // each --wait is the run it queued (same test, same run)
        Assert.Equal(["start a", "end a", "start b", "end b", "start c", "end c"], File.ReadAllLines(trace));
    }

    [Fact]
    public async Task Cancelling_the_middle_queued_run_leaves_the_others_to_run()
    {
        string trace = _cli.Combine("trace");
        await OccupyAsync();
        string a = await QueueAsync(Traced("a", trace));
        string b = await QueueAsync(Traced("b", trace));
        string c = await QueueAsync(Traced("c", trace));
        Lab lab = _cli.OpenLab();
        Task<Run> waitB = lab.WaitAsync(b);

        (int exit, string output, _) = await _cli.Run("cancel", b[..8]);

        Assert.Equal(0, exit);
        Assert.Contains("interrupted", output, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Interrupted, (await waitB.WaitAsync(TimeSpan.FromSeconds(10))).Status);
        Release();
        Assert.Equal(RunStatus.Completed, (await lab.WaitAsync(a).WaitAsync(TimeSpan.FromSeconds(30))).Status);
        Assert.Equal(RunStatus.Completed, (await lab.WaitAsync(c).WaitAsync(TimeSpan.FromSeconds(30))).Status);
        Assert.Equal(["start a", "end a", "start c", "end c"], File.ReadAllLines(trace));
    }

    [Fact]
    public async Task Two_clients_queuing_at_once_never_run_two_tests_on_one_machine()
    {
        string trace = _cli.Combine("trace");
        string[] tests = [.. Enumerable.Range(0, 6).Select(i => Traced($"t{i}", trace))];

        // Six real processes, started together: the first to prepare gets the free machine, the rest queue.
        (int Exit, string Out, string Err)[] results = await Task.WhenAll(tests.Select(t =>
            _cli.Exec(["run", t, "--machine", "local-1", "--queue", "--wait", "--json"], timeout: TimeSpan.FromSeconds(90))));

        Assert.All(results, r => Assert.True(r.Exit == 0, r.Err));
        string[] lines = File.ReadAllLines(trace);
        Assert.DoesNotContain(lines, l => l.StartsWith("OVERLAP", StringComparison.Ordinal));
        Assert.Equal(12, lines.Length);
        for (int i = 0; i < lines.Length; i += 2)
        {
            Assert.Equal(lines[i].Replace("start", "end", StringComparison.Ordinal), lines[i + 1]); // each ends before the next starts
        }
        Run[] runs = [.. results.Select(r => Parse(r.Out)).OrderBy(r => r.StartedAt)];
        for (int i = 1; i < runs.Length; i++)
        {
            Assert.True(runs[i].StartedAt >= runs[i - 1].EndedAt, $"run {runs[i].Id} started before {runs[i - 1].Id} ended");
        }
    }

    [Fact]
    public async Task Without_queue_a_busy_machine_still_refuses_and_the_same_test_queued_twice_is_one_run()
    {
        await OccupyAsync();
        string test = _cli.MakeTest("once", "exit 0");

        (int busy, _, string refused) = await _cli.Run("run", test, "--machine", "local-1");
        string first = await QueueAsync(test);
        (int again, string second, string reused) = await _cli.Run("run", test, "--machine", "local-1", "--queue");

        Assert.Equal(ExitCodes.MachineBusy, busy);
        Assert.Contains("--queue", refused, StringComparison.Ordinal);
        Assert.Equal((0, first), (again, second.Trim()));
        Assert.Contains("already pending", reused, StringComparison.Ordinal);
        (_, string table, _) = await _cli.Run("machines");
        Assert.Matches(@"local-1\s+local\s+-\s+local\s+busy\s+1\s", table);
        Release();
    }
}
