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
}
