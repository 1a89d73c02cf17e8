using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Batches;

/// <summary>
/// A batch's entries handed out longest first by what the recent runs of their test dirs say (unknown ones at the mean of
/// the known), plan order among equals; and in plan order when nothing is known or the plan asks for it.
/// </summary>
[Trait("Category", "Unit")]
public class BatchOrderTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    private static BatchEntry Entry(string name) => new()
    {
        Name = name,
        TestDir = $"/tests/{name}",
        TestDirHash = $"hash-{name}",
        Tags = ["t"],
        Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(10)),
    };

    private static Run Ran(string name, double seconds, RunStatus status = RunStatus.Completed, string errorCode = "") => new()
    {
        Id = Guid.NewGuid().ToString("N")[..12],
        Machine = "m1",
        TestDir = $"/tests/{name}",
        TestDirHash = $"hash-{name}",
        Status = status,
        ExitCode = status == RunStatus.Completed ? 0 : 1,
        StartedAt = T0,
        EndedAt = T0 + TimeSpan.FromSeconds(seconds),
        ArtifactsPath = "/a",
        LogsPath = "/l",
        ErrorCode = errorCode,
    };

    [Fact]
    public void Entries_expect_the_mean_of_their_test_dirs_last_runs_and_unknown_ones_the_mean_of_the_known()
    {
        BatchEntry[] entries = [Entry("quick"), Entry("new"), Entry("slow")];
        Run[] newestFirst = [Ran("slow", 40), Ran("quick", 2), Ran("slow", 20), Ran("slow", 30), Ran("slow", 1000), Ran("other", 500)];

        IReadOnlyList<BatchEntry> expected = BatchOrder.Expect(entries, newestFirst);

        // slow: the last three (40, 20, 30), not the fourth; quick: 2; new: the mean of slow's and quick's, 16.
        Assert.Equal([TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(16), TimeSpan.FromSeconds(30)], expected.Select(e => e.Expected!.Value));
        Assert.Equal(["quick", "new", "slow"], expected.Select(e => e.Name)); // the plan keeps its order; the ledger orders
    }

    [Fact]
    public void Only_runs_whose_test_decided_the_verdict_teach_a_duration()
    {
        BatchEntry[] entries = [Entry("a")];
        Run[] newestFirst = [Ran("a", 1, RunStatus.Timeout, "timeout"), Ran("a", 2, RunStatus.Failed, "spawn_failed"), Ran("a", 3, RunStatus.Interrupted), Ran("a", 4, RunStatus.Failed)];

        Assert.Equal(TimeSpan.FromSeconds(4), Assert.Single(BatchOrder.Expect(entries, newestFirst)).Expected);
        Assert.Null(Assert.Single(BatchOrder.Expect(entries, [Ran("b", 9)])).Expected);
    }

    [Fact]
    public void A_free_machine_takes_the_longest_expected_entry_first_and_plan_order_among_equals()
    {
        FakeStateDir dir = new();
        RunStore store = dir.Open();
        BatchEntry[] entries = [Entry("a") with { Expected = TimeSpan.FromSeconds(5) }, Entry("b") with { Expected = TimeSpan.FromSeconds(50) },
            Entry("c") with { Expected = TimeSpan.FromSeconds(5) }, Entry("d") with { Expected = TimeSpan.FromSeconds(9) }];
        store.AddBatch("b", "/p", entries);

        List<string> order = [];
        while (store.TakeNext("m1", ["t"]) is { } run)
        {
            order.Add(run.Run.PlanEntry!);
            store.Update(run.Id, r => TestRuns.Finished(r, RunStatus.Completed, 0));
        }

        Assert.Equal(["b", "d", "a", "c"], order);
    }

    [Fact]
    public void A_store_read_back_hands_out_in_the_same_order()
    {
        FakeStateDir dir = new();
        dir.Open().AddBatch("b", "/p", [Entry("a") with { Expected = TimeSpan.FromSeconds(1) }, Entry("b") with { Expected = TimeSpan.FromSeconds(2) }]);

        RunStore reopened = dir.Open();

        Assert.Equal("b", reopened.TakeNext("m1", ["t"])!.Run.PlanEntry);
    }

    private static BatchRecord Planned(params (string Name, double Seconds)[] entries) => new()
    {
        Id = "b1", Name = "nightly", Plan = "/plan.json", Seq = 1, CreatedAt = T0,
        Entries = [.. entries.Select(e => Entry(e.Name) with { Expected = TimeSpan.FromSeconds(e.Seconds) })],
    };

    private static BatchItem Item(string name, string status, string? machine = null, string? run = null) => new()
    {
        Name = name, TestDir = $"/tests/{name}", Status = status, Attempts = run is null ? 0 : 1, RunId = run, RanOn = machine,
    };

    [Fact]
    public void The_expected_end_hands_waiting_entries_longest_first_to_the_machine_free_soonest()
    {
        // m1 runs a (60 s expected, 20 s in: 40 s left); m2 is idle. Waiting: b 30, c 50, d 10, longest first:
        // c → m2 (0 → 50), b → m1 (40 → 70), d → m2 (50 → 60). The batch ends when m1 does: 70 s from now.
        BatchRecord batch = Planned(("a", 60), ("b", 30), ("c", 50), ("d", 10));
        BatchItem[] items = [Item("a", "running", "m1", "r1"), Item("b", "waiting"), Item("c", "waiting"), Item("d", "waiting")];
        DateTimeOffset now = T0 + TimeSpan.FromSeconds(20);

        DateTimeOffset? end = BatchOrder.ExpectedEnd(batch, items, _ => ["m1", "m2"], id => id == "r1" ? T0 : null, now);

        Assert.Equal(now + TimeSpan.FromSeconds(70), end);
    }

    [Fact]
    public void A_batch_with_an_entry_no_machine_may_take_or_nothing_known_or_nothing_left_has_no_expected_end()
    {
        BatchRecord batch = Planned(("a", 10), ("b", 10));
        BatchItem[] waiting = [Item("a", "waiting"), Item("b", "waiting")];
        BatchItem[] over = [Item("a", "completed", "m1", "r1"), Item("b", "failed", "m1", "r2")];

        Assert.Null(BatchOrder.ExpectedEnd(batch, waiting, e => e.Name == "b" ? [] : ["m1"], _ => null, T0));
        Assert.Null(BatchOrder.ExpectedEnd(batch with { Entries = [.. batch.Entries.Select(e => e with { Expected = null })] }, waiting, _ => ["m1"], _ => null, T0));
        Assert.Null(BatchOrder.ExpectedEnd(batch, over, _ => ["m1"], _ => null, T0));
        // An overrunning test counts as ending now; a pending one waits its whole time on its machine.
        Assert.Equal(T0 + TimeSpan.FromSeconds(10),
            BatchOrder.ExpectedEnd(batch, [Item("a", "running", "m1", "r1"), Item("b", "pending", "m1", "r2")], _ => ["m1"], _ => T0 - TimeSpan.FromHours(1), T0));
    }
}

/// <summary>Through the real CLI and agent: the second run of a plan starts its longest test first.</summary>
[Trait("Category", "Integration")]
public sealed class BatchOrderRunTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private async Task<string[]> SubmitAndWait(string plan)
    {
        (int exit, string output, string error) = await _cli.Run("batch", "submit", plan, "--wait", "--json");
        Assert.True(exit == 0, output + error);
        string id = System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("id").GetString()!;
        return [.. _cli.OpenLab(startsAgents: false).Runs(new RunFilter(BatchId: id)).OrderBy(r => r.StartedAt).Select(r => r.PlanEntry!)];
    }

    [Fact]
    public async Task The_second_run_of_a_plan_starts_its_longest_test_first_unless_the_plan_asks_for_plan_order()
    {
        _cli.MakeTest("quick", "echo quick");
        _cli.MakeTest("slow", "sleep 2");
        string Plan(string name, string order)
        {
            string path = _cli.Combine("tests", name);
            File.WriteAllText(path, $$"""
                { {{order}} "entries": [ { "name": "q1", "test_dir": "quick", "machine": "local-1" },
                                         { "name": "q2", "test_dir": "quick", "machine": "local-1" },
                                         { "name": "slow", "test_dir": "slow", "machine": "local-1" } ] }
                """);
            return path;
        }

        string[] first = await SubmitAndWait(Plan("plan.json", ""));
        string[] second = await SubmitAndWait(Plan("plan.json", ""));
        string[] asListed = await SubmitAndWait(Plan("listed.json", """ "order": "plan", """));

        Assert.Equal(["q1", "q2", "slow"], first); // nothing known yet: plan order
        Assert.Equal(["slow", "q1", "q2"], second);
        Assert.Equal(["q1", "q2", "slow"], asListed);
    }
    [Fact]
    public async Task Batch_show_gives_a_running_batch_s_expected_end_once_history_knows_its_tests()
    {
        string release = _cli.Combine("release");
        File.WriteAllText(release, "");
        _cli.MakeTest("held", $"sleep 1; while [ ! -e '{release}' ]; do sleep 0.05; done");
        string plan = _cli.Combine("tests", "plan.json");
        File.WriteAllText(plan, """{ "entries": [ { "name": "a", "test_dir": "held", "machine": "local-1" }, { "name": "b", "test_dir": "held", "machine": "local-1" } ] }""");
        await SubmitAndWait(plan);
        File.Delete(release);

        (int exit, string submitted, string error) = await _cli.Run("batch", "submit", plan, "--json");
        Assert.True(exit == 0, error);
        string id = System.Text.Json.JsonDocument.Parse(submitted).RootElement.GetProperty("id").GetString()!;
        Lab lab = _cli.OpenLab(startsAgents: false);
        await Eventually.Get(() => lab.ShowBatch(id) is { Counts.Running: 1 } running ? running : null, what: "the batch's first entry to run");
        (_, string json, _) = await _cli.Run("batch", "show", id, "--json");
        (_, string text, _) = await _cli.Run("batch", "show", id);
        File.WriteAllText(release, "");
        await Eventually.Get(() => lab.ShowBatch(id) is { IsTerminal: true } ended ? ended : null, what: "the batch to end");

        // Two entries of about a second each, one after the other on local-1: about two seconds from submit.
        DateTimeOffset end = System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("expected_end").GetDateTimeOffset();
        Assert.InRange(end - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(-30), TimeSpan.FromSeconds(30));
        Assert.Matches(@"expected end\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(an estimate", text);
    }
}
