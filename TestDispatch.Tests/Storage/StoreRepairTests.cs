using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

[Trait("Category", "Unit")]
public class StoreRepairTests
{
    private readonly FakeStateDir _dir = new();

    private RepairReport Repair() => StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);

    [Fact]
    public void A_healthy_store_is_left_untouched()
    {
        RunStore store = _dir.Open();
        store.Prepare(Request());
        byte[] journal = _dir.Fs.File.ReadAllBytes(_dir.Paths.Journal(0));

        RepairReport report = Repair();

        Assert.False(report.WasDamaged);
        Assert.Empty(report.Backups);
        Assert.Equal(journal, _dir.Fs.File.ReadAllBytes(_dir.Paths.Journal(0)));
    }

    [Fact]
    public void A_damaged_journal_line_is_dropped_the_rest_kept_and_the_original_backed_up()
    {
        RunStore store = _dir.Open();
        Run before = store.Prepare(Request(machine: "m1")).Run;
        _dir.Fs.File.AppendAllText(_dir.Paths.Journal(0), "garbage that is not json\n");
        byte[] damaged = _dir.Fs.File.ReadAllBytes(_dir.Paths.Journal(0));
        Assert.Throws<DispatchException>(() => _dir.Open().List());

        RepairReport report = Repair();

        Assert.True(report.WasDamaged);
        Assert.Equal((1, 1, false), (report.RunsKept, report.LinesDropped, report.SnapshotLost));
        string backup = Assert.Single(report.Backups, b => b.Contains("journal.0.jsonl.corrupt-", StringComparison.Ordinal));
        Assert.Equal(damaged, _dir.Fs.File.ReadAllBytes(backup));
        RunStore repaired = _dir.Open();
        Assert.Equal(before.Id, Assert.Single(repaired.List()).Id);
        Assert.Equal(PrepareKind.Busy, repaired.Prepare(Request(machine: "m1", hash: "other")).Kind);
    }

    [Fact]
    public void Repair_keeps_the_batches_of_the_snapshot_and_of_the_journal()
    {
        RunStore store = _dir.Open();
        BatchEntry entry = new() { Name = "e", TestDir = "/t", TestDirHash = "h", Machine = "m1", Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)) };
        string compacted = store.AddBatch("one", "/p", [entry]).Id;
        store.Compact();
        string journaled = store.AddBatch("two", "/p", [entry]).Id;
        _dir.Fs.File.AppendAllText(_dir.Paths.Journal(1), "garbage\n");

        RepairReport report = Repair();

        Assert.True(report.WasDamaged);
        Assert.Equal([journaled, compacted], _dir.Open().Batches().Select(b => b.Id));
    }

    [Fact]
    public void A_damaged_snapshot_is_backed_up_and_the_journal_runs_are_kept()
    {
        RunStore store = _dir.Open();
        store.Prepare(Request(machine: "m1"));
        store.Compact();
        Run afterCompaction = store.Prepare(Request(machine: "m2")).Run;
        _dir.Fs.File.WriteAllText(_dir.Paths.Snapshot, "{\"generation\":1,\"runs\":[{broken");

        RepairReport report = Repair();

        Assert.True(report.SnapshotLost);
        Assert.Contains(report.Backups, b => b.Contains("snapshot.json.corrupt-", StringComparison.Ordinal));
        Assert.Equal(afterCompaction.Id, Assert.Single(_dir.Open().List()).Id);
    }
}
