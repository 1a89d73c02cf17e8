using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>History segments and their index on a fake disk: what moves, where it is found, and what is listed.</summary>
[Trait("Category", "Unit")]
public class HistoryTests
{
    private static readonly StoreOptions Small = new() { RecentRuns = 2, SegmentRuns = 3, CompactAfterLines = 1_000 };

    private readonly FakeStateDir _dir = new();

    private static List<RunRecord> Finish(RunStore store, int count, string machine = "m1", RunStatus status = RunStatus.Completed)
    {
        List<RunRecord> runs = [];
        for (int i = 0; i < count; i++)
        {
            RunRecord run = store.Get(store.Prepare(Request(machine, hash: $"h-{Guid.NewGuid()}")).Run.Id);
            runs.Add(store.Update(run.Id, r => Finished(Running(r), status, status == RunStatus.Completed ? 0 : 1)));
        }
        return runs;
    }

    private HistoryIndex Index() => new History(_dir.Fs, _dir.Paths, new Durability(LibcFsync.For(_dir.Fs))).ReadIndex();

    private int HotRunsOnDisk() => new SnapshotFile(_dir.Fs, _dir.Paths).Read().Runs.Count;

    [Fact]
    public void Compaction_moves_cold_runs_into_a_segment_and_keeps_the_recent_ones_hot()
    {
        RunStore store = _dir.Open(Small);
        List<RunRecord> runs = Finish(store, 10);

        store.Compact();

        HistoryIndex index = Index();
        Assert.Equal(8, Assert.Single(index.Segments).Runs);
        Assert.Equal(2, HotRunsOnDisk());
        Assert.True(_dir.Fs.File.Exists(_dir.Paths.Segment(1)));
        Assert.Equal(runs.Select(r => r.Id).Reverse(), store.List().Select(r => r.Id));
        Assert.Equal(runs.Select(r => r.Id).Reverse(), _dir.Open(Small).List().Select(r => r.Id));
    }

    [Fact]
    public void Active_runs_open_batches_and_last_verdicts_never_leave_the_hot_state_and_nor_do_their_batches()
    {
        RunStore store = _dir.Open(Small);
        RunRecord onOther = Finish(store, 1, machine: "m2")[0];
        Finish(store, 6);
        RunRecord pending = store.Get(store.Prepare(Request("m3")).Run.Id);
        BatchRecord batch = store.AddBatch("b", "/plan.json", [Entry("one", "m4"), Entry("two", "m4")]);
        RunRecord batchRun = store.TakeNext("m4", ["t"])!;
        store.Update(batchRun.Id, r => Finished(r));
        Finish(store, 3);

        store.Compact();

        List<string> hot = [.. new SnapshotFile(_dir.Fs, _dir.Paths).Read().Runs.Select(r => r.Id)];
        Assert.Contains(pending.Id, hot);
        Assert.Contains(onOther.Id, hot); // m2's last verdict
        Assert.Contains(batchRun.Id, hot); // m4's last verdict (its batch, still open, stays hot as a batch)
        Assert.Equal(RunStatus.Completed, _dir.Open(Small).LastFinishedOn("m2")!.Run.Status);
        Assert.Equal(1, _dir.Open(Small).FindBatch(batch.Id, withItems: true).Batch.Counts.Waiting);
        Assert.Equal(7, Index().RunCount); // nine finished on m1, less the two newest
    }

    [Fact]
    public void An_open_batchs_ended_runs_go_to_history_and_the_batch_keeps_its_progress()
    {
        // A batch of 20,000 entries near its end held all its ended runs hot: every command read them all.
        RunStore store = _dir.Open(Small with { RecentRuns = 0 });
        BatchRecord batch = store.AddBatch("open", "/plan.json",
            [Entry("a", "m4"), Entry("b", "m4"), Entry("c", "m4") with { Retries = 1 }, Entry("d", "m4"), Entry("e", "m4")]);
        List<RunRecord> ended = [];
        for (int i = 0; i < 3; i++)
        {
            RunRecord run = store.TakeNext("m4", ["t"])!;
            ended.Add(store.Update(run.Id, r => i == 2
                ? r with { Run = Finished(r, RunStatus.Interrupted, null).Run with { ErrorCode = ErrorCodes.CopyFailed } }
                : Finished(r, i == 1 ? RunStatus.Failed : RunStatus.Completed, i)));
        }
        RunRecord lastOnM4 = store.Update(store.Prepare(Request("m4", hash: "other")).Run.Id, r => Finished(Running(r)));
        string before = Describe(store.FindBatch(batch.Id, withItems: true).Batch);

        store.Compact();

        List<string> hot = [.. new SnapshotFile(_dir.Fs, _dir.Paths).Read().Runs.Select(r => r.Id)];
        Assert.Equal([lastOnM4.Id], hot);
        Assert.Equal(3, Index().RunCount);
        RunStore fresh = _dir.Open(Small with { RecentRuns = 0 });
        Assert.Equal(before, Describe(fresh.FindBatch(batch.Id, withItems: true).Batch));
        Assert.Equal(ended.Select(r => r.Id).Reverse(), fresh.List(new RunFilter(BatchId: batch.Id)).Select(r => r.Id));

        // c's infrastructure failure is retried, d and e run; the batch is then over, and says so from history too.
        Assert.Equal(["c", "d", "e"], Enumerable.Range(0, 3).Select(_ =>
            fresh.Update(fresh.TakeNext("m4", ["t"])!.Id, r => Finished(r)).Run.PlanEntry!).Order());
        Assert.Null(fresh.TakeNext("m4", ["t"]));
        fresh.Compact();
        Batch done = _dir.Open(Small).FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal(BatchStatus.Failed, done.Status);
        Assert.Equal((4, 1), (done.Counts.Completed, done.Counts.Failed));
        Assert.Equal(2, done.Items!.Single(i => i.Name == "c").Attempts);
        Assert.Equal(6, _dir.Open(Small).List(new RunFilter(BatchId: batch.Id)).Count);
    }

    [Fact]
    public void A_retry_counts_the_tries_that_went_to_history_so_an_entry_is_not_retried_past_its_limit()
    {
        RunStore store = _dir.Open(Small with { RecentRuns = 0 });
        BatchRecord batch = store.AddBatch("flaky", "/plan.json", [Entry("x", "m5") with { Retries = 1 }]);
        RunRecord InfraFailure(RunStore s) => s.Update(s.TakeNext("m5", ["t"])!.Id,
            r => r with { Run = Finished(r, RunStatus.Interrupted, null).Run with { ErrorCode = ErrorCodes.CopyFailed } });
        InfraFailure(store);
        store.Update(store.Prepare(Request("m5", hash: "other")).Run.Id, r => Finished(Running(r)));
        store.Compact();
        Assert.Equal(1, Index().RunCount);

        RunStore fresh = _dir.Open(Small with { RecentRuns = 0 });
        InfraFailure(fresh);
        fresh.Update(fresh.Prepare(Request("m5", hash: "other2")).Run.Id, r => Finished(Running(r)));
        fresh.Compact();

        RunStore last = _dir.Open(Small);
        Assert.Null(last.TakeNext("m5", ["t"]));
        Batch progress = last.FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal(2, Assert.Single(progress.Items!).Attempts);
        Assert.Equal(BatchStatus.Failed, progress.Status);
    }

    [Fact]
    public void A_hot_batchs_entries_are_kept_once_beside_the_snapshot_and_go_when_the_batch_does()
    {
        // A 20,000-entry plan was 4.7 MB of every snapshot: rewritten at each compaction, parsed again by every reader.
        RunStore store = _dir.Open(Small with { RecentRuns = 0 });
        BatchRecord batch = store.AddBatch("plan", "/plan.json", [Entry("a", "m6"), Entry("b", "m6")]);
        store.Compact();

        string header = _dir.Fs.File.ReadAllLines(_dir.Paths.Snapshot)[0];
        Assert.DoesNotContain("\"entries\"", header);
        Assert.Contains("\"entry_count\":2", header);
        Assert.Contains("/tests/b", _dir.Fs.File.ReadAllText(_dir.Paths.BatchFile(batch.Id)));
        Assert.Equal(["a", "b"], _dir.Open(Small).FindBatch(batch.Id, withItems: true).Batch.Items!.Select(i => i.Name));

        for (int i = 0; i < 2; i++)
        {
            store.Update(store.TakeNext("m6", ["t"])!.Id, r => Finished(r));
        }
        store.Update(store.Prepare(Request("m6", hash: "other")).Run.Id, r => Finished(Running(r)));
        store.Compact();

        Assert.False(_dir.Fs.File.Exists(_dir.Paths.BatchFile(batch.Id)));
        Batch done = _dir.Open(Small).FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal((BatchStatus.Completed, 2), (done.Status, done.Items!.Count));
    }

    [Fact]
    public void A_lost_batch_file_is_damage_that_names_the_file()
    {
        RunStore store = _dir.Open(Small);
        BatchRecord batch = store.AddBatch("plan", "/plan.json", [Entry("a", "m6"), Entry("b", "m6")]);
        RunRecord run = store.Update(store.TakeNext("m6", ["t"])!.Id, r => Finished(r));
        store.Compact();
        _dir.Fs.File.Delete(_dir.Paths.BatchFile(batch.Id));

        DispatchException error = Assert.Throws<DispatchException>(() => _dir.Open(Small).List());

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains(_dir.Paths.BatchFile(batch.Id), error.Message);

        // doctor --repair keeps the batch and its runs (without the entries that are gone) rather than the whole snapshot.
        RepairReport report = StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);
        Assert.Equal([batch.Id], report.EntriesLost);
        RunStore repaired = _dir.Open(Small);
        Assert.Equal(run.Id, repaired.Get(run.Id).Id);
        Assert.Equal(batch.Id, repaired.FindBatch(batch.Id).Record.Id);
    }

    private static string Describe(Batch batch) => System.Text.Json.JsonSerializer.Serialize(batch, ContractJson.Default.Batch);

    [Fact]
    public void A_run_is_found_by_id_and_by_any_unique_prefix_in_every_segment()
    {
        RunStore store = _dir.Open(Small);
        List<RunRecord> runs = [];
        for (int segment = 0; segment < 3; segment++)
        {
            runs.AddRange(Finish(store, 6));
            store.Compact();
        }
        Assert.Equal(3, Index().Segments.Count);

        RunStore fresh = _dir.Open(Small);
        foreach (RunRecord run in runs)
        {
            string prefix = ShortestUniquePrefix(run.Id, runs.Select(r => r.Id));
            Assert.Equal(Json(run), Json(fresh.Get(run.Id)));
            Assert.Equal(run.Id, fresh.Find(prefix).Id);
            Assert.Equal(run.Id, fresh.Find(run.Id.ToUpperInvariant()).Id);
        }
    }

    [Fact]
    public void A_prefix_shared_by_runs_in_two_segments_is_ambiguous_and_names_both()
    {
        RunStore store = _dir.Open(Small);
        List<RunRecord> first, second;
        List<string> made = [];
        HistoryIndex index;
        RunRecord a, b;
        string shared;
        // Until two runs of different segments share a prefix that no more than the five runs an ambiguity names share
        // (the runs of every try stay in the store).
        while (true)
        {
            first = Finish(store, 6);
            store.Compact();
            second = Finish(store, 6);
            store.Compact();
            index = Index();
            made.AddRange([.. first.Select(r => r.Id), .. second.Select(r => r.Id)]);
            if (first.Take(4).SelectMany(x => second.Take(4).Select(y => (x, y))).FirstOrDefault(p => p.x.Id[..2] == p.y.Id[..2]) is ({ } x, { } y) &&
                made.Count(id => id.StartsWith(CommonPrefix(x.Id, y.Id), StringComparison.Ordinal)) <= 5)
            {
                (a, b, shared) = (x, y, CommonPrefix(x.Id, y.Id));
                break;
            }
        }

        DispatchException e = Assert.Throws<DispatchException>(() => _dir.Open(Small).Find(shared));

        Assert.Equal(ErrorCodes.AmbiguousId, e.ErrorCode);
        Assert.Contains(a.Id, e.Message);
        Assert.Contains(b.Id, e.Message);
        Assert.True(index.Segments.Count >= 2);
    }

    [Fact]
    public void A_change_to_a_run_in_history_is_refused_and_the_run_stays_as_it_was()
    {
        RunStore store = _dir.Open(Small);
        RunRecord old = Finish(store, 6)[0];
        store.Compact();
        Assert.NotNull(new History(_dir.Fs, _dir.Paths, new Durability(LibcFsync.For(_dir.Fs))).FindRuns(Index(), old.Id, 1).SingleOrDefault());

        DispatchException e = Assert.Throws<DispatchException>(() => store.Update(old.Id, r => r with { Run = r.Run with { ExitCode = 7 } }));
        RunRecord unchanged = store.Update(old.Id, r => r);

        Assert.Equal(ErrorCodes.IllegalTransition, e.ErrorCode);
        Assert.Equal(Json(old), Json(unchanged));
        Assert.Equal(Json(old), Json(_dir.Open(Small).Get(old.Id)));
    }

    [Fact]
    public void A_run_written_to_history_twice_is_listed_once_with_its_newest_copy()
    {
        // What a crash between history's new index and the new hot snapshot leaves: the next compaction moves the same
        // runs again. The newer segment's copy wins; the older one is never listed or found.
        RunStore store = _dir.Open(Small);
        List<RunRecord> runs = Finish(store, 6);
        History history = new(_dir.Fs, _dir.Paths, new Durability(LibcFsync.For(_dir.Fs)));
        RunRecord changed = runs[0] with { Leftovers = [4242] };
        history.AddSegment(history.ReadIndex(), [], [.. runs.Take(3)]);
        history.AddSegment(history.ReadIndex(), [], [changed, .. runs.Skip(1).Take(3)]);

        HistoryIndex index = history.ReadIndex();
        using HistoryHold hold = history.Hold(index, shared: null);
        List<RunRecord> listed = [.. history.NewestFirst(hold)];

        Assert.Equal(runs.Take(4).Select(r => r.Id).Reverse(), listed.Select(r => r.Id));
        Assert.Equal([4242], listed.Single(r => r.Id == changed.Id).Leftovers);
        Assert.Equal([4242], history.FindRuns(index, changed.Id, 1).Single().Leftovers);
        Assert.Equal(2, index.Segments.Count);
    }

    [Fact]
    public void Newest_first_merges_segments_whose_runs_overlap_in_time()
    {
        // A long batch ends after standalone runs made during it went to history: its runs land in a later segment.
        RunStore store = _dir.Open(Small with { RecentRuns = 0 });
        BatchRecord batch = store.AddBatch("long", "/plan.json", [Entry("a", "m9"), Entry("b", "m9")]);
        RunRecord a = store.TakeNext("m9", ["t"])!;
        store.Update(a.Id, r => Finished(r));
        List<RunRecord> during = Finish(store, 5);
        store.Compact();
        RunRecord b = store.TakeNext("m9", ["t"])!;
        store.Update(b.Id, r => Finished(r));
        List<RunRecord> after = Finish(store, 4);
        store.Compact();

        List<long> seqs = [.. _dir.Open(Small).List().Select(r => r.Seq)];

        Assert.Equal(seqs.OrderDescending(), seqs);
        Assert.Equal(2 + during.Count + after.Count, seqs.Count);
        Assert.Equal(2, Index().Segments.Count);
        Assert.Equal(BatchStatus.Completed, _dir.Open(Small).FindBatch(batch.Id[..6]).Batch.Status);
    }

    [Fact]
    public void Limit_and_filters_page_across_hot_and_history()
    {
        RunStore store = _dir.Open(Small);
        List<RunRecord> runs = [];
        for (int i = 0; i < 4; i++)
        {
            runs.AddRange(Finish(store, 3));
            runs.AddRange(Finish(store, 2, status: RunStatus.Failed));
            store.Compact();
        }

        RunStore fresh = _dir.Open(Small);

        Assert.Equal(runs.Select(r => r.Id).Reverse().Take(7), fresh.List(new RunFilter(Limit: 7)).Select(r => r.Id));
        Assert.Equal(runs.Where(r => r.Run.Status == RunStatus.Failed).Select(r => r.Id).Reverse(),
            fresh.Stream(new RunFilter(Status: RunStatus.Failed)).Select(r => r.Id));
    }

    [Fact]
    public void New_runs_and_batches_are_newer_than_anything_in_history()
    {
        RunStore store = _dir.Open(Small with { RecentRuns = 0 });
        BatchRecord batch = store.AddBatch("b", "/plan.json", []);
        List<RunRecord> old = Finish(store, 3, machine: "m1");
        Finish(store, 1, machine: "m2"); // m1's runs are then not its machine's... m1's last stays hot
        store.Compact();

        RunStore fresh = _dir.Open(Small);
        RunRecord made = fresh.Get(fresh.Prepare(Request("m5")).Run.Id);
        BatchRecord next = fresh.AddBatch("c", "/plan.json", []);

        Assert.True(made.Seq > old.Max(r => r.Seq));
        Assert.True(next.Seq > batch.Seq);
        Assert.Equal(made.Id, fresh.List(new RunFilter(Limit: 1)).Single().Id);
    }

    [Fact]
    public void A_batch_in_history_is_found_listed_and_cancelling_it_changes_nothing()
    {
        RunStore store = _dir.Open(Small with { RecentRuns = 0 });
        BatchRecord batch = store.AddBatch("done", "/plan.json", [Entry("one", "m7")]);
        RunRecord run = store.TakeNext("m7", ["t"])!;
        store.Update(run.Id, r => Finished(r, RunStatus.Failed, 1));
        Finish(store, 3);
        store.Compact();
        Assert.Contains(Index().Segments, s => s.Batches == 1);

        RunStore fresh = _dir.Open(Small);
        (BatchRecord found, Batch progress) = fresh.FindBatch(batch.Id[..5], withItems: true);
        (BatchRecord cancelled, IReadOnlyList<RunRecord> active) = fresh.CancelBatch(batch.Id);

        Assert.Equal(batch.Id, found.Id);
        Assert.Equal(BatchStatus.Failed, progress.Status);
        Assert.Equal(run.Id, progress.Items!.Single().RunId);
        Assert.Empty(active);
        Assert.Null(cancelled.CancelledAt);
        Assert.Null(fresh.TakeNext("m7", ["t"]));
        Assert.Equal(batch.Id, fresh.Batches().Single().Id);
    }

    [Fact]
    public void A_snapshot_with_many_cold_runs_is_moved_to_history_when_first_opened()
    {
        // What a state dir of the build before history looks like: everything in snapshot.json.
        RunStore old = _dir.Open(new StoreOptions { SegmentRuns = 1_000_000, RecentRuns = 1_000_000 });
        List<RunRecord> runs = Finish(old, 12);
        old.Compact();
        Assert.False(_dir.Fs.File.Exists(_dir.Paths.HistoryIndex));

        RunStore opened = _dir.Open(Small);

        Assert.Equal(runs.Select(r => r.Id).Reverse(), opened.List().Select(r => r.Id));
        Assert.Equal(10, Index().RunCount);
        Assert.Equal(2, HotRunsOnDisk());
    }

    [Fact]
    public void Ids_index_lists_every_record_once_in_id_order()
    {
        RunStore store = _dir.Open(Small);
        List<RunRecord> runs = [];
        for (int i = 0; i < 3; i++)
        {
            runs.AddRange(Finish(store, 5));
            store.Compact();
        }

        List<IdEntry> ids = [.. new IdIndexFile(_dir.Fs, _dir.Paths.IdIndex(Index().Generation)).ReadAll()];

        Assert.Equal(ids.Select(e => e.Id).Order(StringComparer.Ordinal), ids.Select(e => e.Id));
        Assert.Equal(Index().RunCount, ids.Count);
        Assert.Equal(ids.Count, ids.Select(e => e.Id).Distinct().Count());
        Assert.Single(_dir.Fs.Directory.GetFiles(_dir.Paths.HistoryDir, "ids.*"));
    }

    [Fact]
    public void A_batch_whose_runs_went_to_history_in_different_segments_shows_all_of_them()
    {
        // A batch goes to history once it is over, but its newest runs (the newest few, a machine's last verdict) stay
        // hot and reach history only with a later compaction, in another segment.
        RunStore store = _dir.Open(Small);
        BatchRecord batch = store.AddBatch("split", "/plan.json", [Entry("a", "m7"), Entry("b", "m7"), Entry("c", "m7")]);
        for (int i = 0; i < 3; i++)
        {
            store.Update(store.TakeNext("m7", ["t"])!.Id, r => Finished(r));
        }
        store.Compact();
        Finish(store, 4);
        store.Update(store.Prepare(Request("m7", hash: "later")).Run.Id, r => Finished(Running(r)));
        Finish(store, 4);
        store.Compact();
        Assert.True(Index().Segments.Count >= 2);

        RunStore fresh = _dir.Open(Small);
        Batch progress = fresh.FindBatch(batch.Id, withItems: true).Batch;

        Assert.Equal(3, progress.Counts.Completed);
        Assert.Equal(BatchStatus.Completed, progress.Status);
        Assert.Equal(3, fresh.List(new RunFilter(BatchId: batch.Id)).Count);
        Assert.Equal(3, fresh.Batches(withItems: true).Single(b => b.Id == batch.Id).Counts.Completed);
    }

    private static BatchEntry Entry(string name, string machine) => new()
    {
        Name = name,
        TestDir = $"/tests/{name}",
        TestDirHash = $"hash-{name}",
        Machine = machine,
        Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(5)),
    };

    private static string Json(RunRecord record) => System.Text.Json.JsonSerializer.Serialize(record.Run, ContractJson.Default.Run);

    private static string ShortestUniquePrefix(string id, IEnumerable<string> all)
    {
        List<string> others = [.. all.Where(o => o != id)];
        for (int n = 1; n <= id.Length; n++)
        {
            if (!others.Any(o => o.StartsWith(id[..n], StringComparison.Ordinal)))
            {
                return id[..n];
            }
        }
        return id;
    }

    private static string CommonPrefix(string a, string b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n])
        {
            n++;
        }
        return a[..n];
    }
}
