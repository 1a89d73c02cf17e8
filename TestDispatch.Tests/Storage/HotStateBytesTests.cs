using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// The hot state bounded in bytes (issue 35), on a fake disk: a batch that ends while the hot state is heavy leaves it
/// at once, and the journal is folded once it is as heavy as the snapshot.
/// </summary>
[Trait("Category", "Unit")]
public class HotStateBytesTests
{
    /// <summary>No compaction by lines, and more cold runs than these tests make before one would move by count.</summary>
    private static readonly StoreOptions ByBytesOnly = new()
    {
        RecentRuns = 2,
        SegmentRuns = 1_000,
        CompactAfterLines = 1_000_000,
        CompactAfterBytes = long.MaxValue,
        HotBytes = 4 * 1024,
    };

    private readonly FakeStateDir _dir = new();

    private HistoryIndex Index() => new History(_dir.Fs, _dir.Paths, new Durability(LibcFsync.For(_dir.Fs))).ReadIndex();

    private Snapshot OnDisk() => new SnapshotFile(_dir.Fs, _dir.Paths).Read();

    private long JournalBytes() => _dir.Fs.Directory.EnumerateFiles(FakeStateDir.Root, "journal.*.jsonl").Sum(f => _dir.Fs.FileInfo.New(f).Length);

    private static BatchRecord AddBatch(RunStore store, int entries) => store.AddBatch("nightly", "/plan.json",
        [.. Enumerable.Range(0, entries).Select(i => new BatchEntry
        {
            Name = $"t{i}",
            TestDir = $"/tests/t{i}",
            TestDirHash = $"hash-{i}",
            Machine = "m1",
            Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(5)),
        })]);

    private static List<RunRecord> RunAll(RunStore store, int entries) =>
        [.. Enumerable.Range(0, entries).Select(_ => store.Update(store.TakeNext("m1", ["t"])!.Id, r => Finished(r)))];

    [Fact]
    public void A_batch_that_ends_while_the_hot_state_is_heavy_leaves_it_at_once_with_its_ended_runs()
    {
        // After a 2,000-entry batch, 1,675 of its runs and its ledger stayed in what every command reads (1.24 MB of
        // snapshot and 0.89 MB of journal), waiting for 5,000 cold runs to fill a segment.
        RunStore store = _dir.Open(ByBytesOnly);
        BatchRecord batch = AddBatch(store, 30);
        List<RunRecord> runs = RunAll(store, 29);
        Assert.Empty(Index().Segments); // still open: its ended runs wait, as any cold run does

        RunRecord last = RunAll(store, 1)[0];

        Assert.Single(Index().Segments);
        Assert.Equal(28, Index().RunCount); // all but the two newest
        Snapshot hot = OnDisk();
        Assert.Equal([runs[^1].Id, last.Id], hot.Runs.Select(r => r.Id));
        Assert.Empty(hot.Batches ?? []);
        Assert.Equal(0, JournalBytes());
        Assert.False(_dir.Fs.File.Exists(_dir.Paths.BatchFile(batch.Id)));
        Batch done = _dir.Open(ByBytesOnly).FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal((BatchStatus.Completed, 30), (done.Status, done.Counts.Completed));
        Assert.Equal(30, _dir.Open(ByBytesOnly).List(new RunFilter(BatchId: batch.Id)).Count);
    }

    [Fact]
    public void A_batch_that_ends_while_the_hot_state_is_light_stays_for_the_usual_compaction()
    {
        // A segment per small batch would rewrite history's id index every time: light batches wait like any cold run.
        RunStore store = _dir.Open(ByBytesOnly with { HotBytes = 1 << 20 });
        AddBatch(store, 3);
        RunAll(store, 3);

        Assert.Empty(Index().Segments);
        Assert.False(_dir.Fs.File.Exists(_dir.Paths.Snapshot));
    }

    [Fact]
    public void A_state_dir_left_with_a_heavy_finished_batch_sheds_it_at_its_next_load()
    {
        // As an older build left it: compactions that moved nothing (too few cold runs), the batch over in the hot state.
        RunStore old = _dir.Open(ByBytesOnly with { HotBytes = long.MaxValue, CompactAfterLines = 40 });
        BatchRecord batch = AddBatch(old, 30);
        RunAll(old, 30);
        Assert.Empty(Index().Segments);
        Assert.Single(OnDisk().Batches ?? []);

        RunStore next = _dir.Open(ByBytesOnly);
        Assert.Equal(2, next.List(new RunFilter(Limit: 2)).Count);

        Assert.Single(Index().Segments);
        Assert.Empty(OnDisk().Batches ?? []);
        Assert.Equal(2, OnDisk().Runs.Count);
        Assert.False(_dir.Fs.File.Exists(_dir.Paths.BatchFile(batch.Id)));
        Assert.Equal(30, _dir.Open(ByBytesOnly).FindBatch(batch.Id, withItems: true).Batch.Counts.Completed);
    }

    [Fact]
    public void The_journal_is_folded_once_it_holds_the_byte_limit_and_as_much_as_the_snapshot()
    {
        StoreOptions options = ByBytesOnly with { CompactAfterBytes = 4 * 1024, RecentRuns = 1_000, HotBytes = long.MaxValue };
        RunStore store = _dir.Open(options);
        int runs = 0;
        while (!_dir.Fs.File.Exists(_dir.Paths.Snapshot))
        {
            store.Update(store.Prepare(Request("m1", hash: $"h{runs++}")).Run.Id, r => Finished(Running(r)));
            Assert.True(JournalBytes() < 4 * 1024 + 2_000, $"the journal grew to {JournalBytes()} bytes without a compaction");
        }
        Assert.True(JournalBytes() < 2_000, $"the journal holds {JournalBytes()} bytes after it was folded"); // at most the pair's second line

        // The snapshot now outweighs the limit: the journal may grow as heavy as it before the next fold.
        for (int i = 0; i < 3 * runs; i++)
        {
            store.Update(store.Prepare(Request("m1", hash: $"g{i}")).Run.Id, r => Finished(Running(r)));
        }
        long snapshot = _dir.Fs.FileInfo.New(_dir.Paths.Snapshot).Length;
        Assert.True(snapshot > 4 * 1024, $"snapshot {snapshot} bytes");
        Assert.True(JournalBytes() <= snapshot + 2_000, $"journal {JournalBytes()} bytes, snapshot {snapshot}");
        Assert.Equal(4 * runs, _dir.Open(options).List(new RunFilter(Limit: 10_000)).Count);
    }
}

/// <summary>Through the real CLI, agent and disk: a batch heavy in bytes leaves the hot state as it ends.</summary>
[Trait("Category", "Integration")]
public sealed class HotStateBytesCliTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task A_finished_batch_heavy_in_bytes_is_out_of_the_hot_state_when_batch_submit_wait_returns()
    {
        // Each entry's command carries 32 KiB, so 24 entries weigh more than the hot state may hold once they are over.
        _cli.MakeTest("pass", "exit 0");
        string weight = new('x', 32 * 1024);
        string plan = _cli.Combine("tests", "plan.json");
        File.WriteAllText(plan, System.Text.Json.JsonSerializer.Serialize(new
        {
            entries = Enumerable.Range(0, 24).Select(i => new Dictionary<string, object>
            {
                ["name"] = $"t{i}",
                ["test_dir"] = "pass",
                ["machine"] = $"local-{1 + (i % 2)}",
                ["command"] = new[] { "./run.sh", weight },
            }),
        }));

        (int exit, string output, string error) = await _cli.Run("batch", "submit", plan, "--wait", "--json");

        Assert.True(exit == 0, output + error);
        string id = System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("id").GetString()!;
        StatePaths paths = new(_cli.StateDir);
        System.IO.Abstractions.FileSystem fs = new();
        Snapshot hot = new SnapshotFile(fs, paths).Read();
        Assert.Equal(24, hot.Runs.Count); // the newest runs stay hot, the batch does not
        Assert.Empty(hot.Batches ?? []);
        Assert.False(File.Exists(paths.BatchFile(id)));
        Assert.Single(new History(fs, paths, new Durability(LibcFsync.Instance)).ReadIndex().Segments);
        (exit, output, error) = await _cli.Run("batch", "show", id, "--json");
        Assert.True(exit == 0, error);
        Assert.Equal(24, System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("counts").GetProperty("completed").GetInt32());
    }
}
