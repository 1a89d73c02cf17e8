using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>Retention on a fake disk: what prune removes from the hot state and history, and what it never touches.</summary>
[Trait("Category", "Unit")]
public class PruneTests
{
    private static readonly StoreOptions Small = new() { RecentRuns = 2, SegmentRuns = 3 };
    private static readonly TimeSpan NinetyDays = TimeSpan.FromDays(90);

    private readonly FakeStateDir _dir = new();
    private readonly MovableClock _clock = new();

    private sealed class MovableClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private RunStore Open() => new(_dir.Fs, _dir.Locks, FakeStateDir.Root, _clock, Small);

    private RunRecord Ended(RunStore store, string machine = "m1", RunStatus status = RunStatus.Completed)
    {
        RunRecord run = store.Get(store.Prepare(Request(machine, hash: $"h-{Guid.NewGuid()}")).Run.Id);
        _dir.Fs.AddFile(run.Run.LogsPath, new System.IO.Abstractions.TestingHelpers.MockFileData("log line\n"));
        return store.Update(run.Id, r => r with { Run = r.Run with { Status = status, ExitCode = status == RunStatus.Completed ? 0 : 1, StartedAt = _clock.Now, EndedAt = _clock.Now } });
    }

    [Fact]
    public void Prune_removes_old_ended_runs_from_the_hot_state_and_history_with_their_logs()
    {
        RunStore store = Open();
        List<RunRecord> old = [.. Enumerable.Range(0, 8).Select(_ => Ended(store))];
        store.Compact();
        _clock.Now += TimeSpan.FromDays(100);
        RunRecord recent = Ended(store);
        RunRecord pending = store.Get(store.Prepare(Request("m2")).Run.Id);

        PruneReport report = Open().Prune(NinetyDays);

        Assert.Equal(old.Select(r => r.Id).Order(), report.Runs.Select(r => r.Id).Order());
        Assert.True(report.Bytes > 0);
        RunStore fresh = Open();
        Assert.Equal([pending.Id, recent.Id], fresh.List().Select(r => r.Id));
        Assert.All(old, r => Assert.False(_dir.Fs.Directory.Exists(_dir.Paths.RunDir(r.Id))));
        Assert.True(_dir.Fs.File.Exists(recent.Run.LogsPath));
        Assert.Equal(ErrorCodes.RunNotFound, Assert.Throws<DispatchException>(() => fresh.Get(old[0].Id)).ErrorCode);
        Assert.Equal(0, new History(_dir.Fs, _dir.Paths, new Durability(LibcFsync.For(_dir.Fs))).ReadIndex().RunCount);
        Assert.Empty(_dir.Fs.Directory.GetFiles(_dir.Paths.HistoryDir, "segment.*"));
    }

    [Fact]
    public void Prune_keeps_every_run_of_an_open_batch_and_removes_a_closed_batch_whole()
    {
        RunStore store = Open();
        BatchRecord closed = store.AddBatch("closed", "/plan.json", [Entry("x", "m3")]);
        store.Update(store.TakeNext("m3", ["t"])!.Id, r => Finished(r) with { Run = Finished(r).Run with { EndedAt = _clock.Now } });
        BatchRecord open = store.AddBatch("open", "/plan.json", [Entry("a", "m4"), Entry("b", "m4")]);
        RunRecord first = store.TakeNext("m4", ["t"])!;
        store.Update(first.Id, r => Finished(r) with { Run = Finished(r).Run with { EndedAt = _clock.Now } });
        Enumerable.Range(0, 4).ToList().ForEach(_ => Ended(store));
        store.Compact();
        _clock.Now += TimeSpan.FromDays(100);

        PruneReport report = Open().Prune(NinetyDays);

        RunStore fresh = Open();
        Assert.DoesNotContain(report.Runs, r => r.Id == first.Id);
        Assert.Equal(first.Id, fresh.Get(first.Id).Id);
        Assert.Equal(1, fresh.FindBatch(open.Id).Batch.Counts.Waiting);
        Assert.Contains(closed.Id, report.Batches);
        Assert.Equal(ErrorCodes.BatchNotFound, Assert.Throws<DispatchException>(() => fresh.FindBatch(closed.Id)).ErrorCode);
        Assert.Equal("b", fresh.TakeNext("m4", ["t"])!.Run.PlanEntry);
    }

    [Fact]
    public void Prune_keeps_the_runs_of_an_open_batch_that_went_to_history()
    {
        RunStore store = Open();
        BatchRecord open = store.AddBatch("open", "/plan.json", [Entry("a", "m4"), Entry("b", "m4"), Entry("c", "m4")]);
        List<RunRecord> ran = [.. Enumerable.Range(0, 2).Select(_ =>
            store.Update(store.TakeNext("m4", ["t"])!.Id, r => Finished(r) with { Run = Finished(r).Run with { EndedAt = _clock.Now } }))];
        Ended(store, machine: "m4");
        Enumerable.Range(0, 4).ToList().ForEach(_ => Ended(store));
        store.Compact();
        Assert.DoesNotContain(new SnapshotFile(_dir.Fs, _dir.Paths).Read().Runs, r => r.Run.BatchId == open.Id);
        _clock.Now += TimeSpan.FromDays(100);

        PruneReport dry = Open().Prune(NinetyDays, dryRun: true);
        PruneReport report = Open().Prune(NinetyDays);

        Assert.Equal(dry.Runs.Select(r => r.Id).Order(), report.Runs.Select(r => r.Id).Order());
        Assert.DoesNotContain(report.Runs, r => r.Run.BatchId == open.Id);
        RunStore fresh = Open();
        Assert.Equal(ran.Select(r => r.Id).Reverse(), fresh.List(new RunFilter(BatchId: open.Id)).Select(r => r.Id));
        Assert.Equal((2, 1), (fresh.FindBatch(open.Id).Batch.Counts.Completed, fresh.FindBatch(open.Id).Batch.Counts.Waiting));
        Assert.Equal("c", fresh.TakeNext("m4", ["t"])!.Run.PlanEntry);
    }

    [Fact]
    public void Keep_failed_keeps_runs_that_did_not_pass()
    {
        RunStore store = Open();
        RunRecord failed = Ended(store, status: RunStatus.Failed);
        RunRecord timedOut = Ended(store, status: RunStatus.Timeout);
        RunRecord passed = Ended(store);
        _clock.Now += TimeSpan.FromDays(100);

        PruneReport report = Open().Prune(NinetyDays, keepFailed: true);

        Assert.Equal([passed.Id], report.Runs.Select(r => r.Id));
        Assert.Equal([timedOut.Id, failed.Id], Open().List().Select(r => r.Id));
    }

    [Fact]
    public void A_dry_run_says_what_would_go_and_changes_nothing()
    {
        RunStore store = Open();
        List<RunRecord> runs = [.. Enumerable.Range(0, 6).Select(_ => Ended(store))];
        store.Compact();
        _clock.Now += TimeSpan.FromDays(100);
        string[] before = [.. _dir.Fs.AllFiles.Order()];

        PruneReport report = Open().Prune(NinetyDays, dryRun: true);

        Assert.Equal(6, report.Runs.Count);
        Assert.Equal(before, _dir.Fs.AllFiles.Order());
        Assert.Equal(runs.Count, Open().List().Count);
    }

    [Fact]
    public void Runs_that_ended_within_the_window_and_active_runs_stay()
    {
        RunStore store = Open();
        RunRecord running = store.Update(store.Prepare(Request("m5")).Run.Id, Running);
        _clock.Now += TimeSpan.FromDays(89);
        RunRecord ended = Ended(store);
        _clock.Now += TimeSpan.FromDays(2);

        PruneReport report = Open().Prune(NinetyDays);

        Assert.Empty(report.Runs);
        Assert.Equal([ended.Id, running.Id], Open().List().Select(r => r.Id));
    }

    [Fact]
    public void A_run_both_hot_and_in_history_is_pruned_from_both()
    {
        // What a crash between history's new index and the new hot snapshot leaves: runs in a segment that are still hot.
        RunStore store = Open();
        List<RunRecord> runs = [.. Enumerable.Range(0, 4).Select(_ => Ended(store))];
        History history = new(_dir.Fs, _dir.Paths, new Durability(LibcFsync.For(_dir.Fs)));
        history.AddSegment(history.ReadIndex(), [], runs);
        _clock.Now += TimeSpan.FromDays(100);

        PruneReport report = Open().Prune(NinetyDays);

        RunStore fresh = Open();
        Assert.Equal(runs.Select(r => r.Id).Order(), report.Runs.Select(r => r.Id).Distinct().Order());
        Assert.Empty(fresh.List());
        Assert.All(runs, r => Assert.Equal(ErrorCodes.RunNotFound, Assert.Throws<DispatchException>(() => fresh.Get(r.Id)).ErrorCode));
        Assert.Equal(0, history.ReadIndex().RunCount);
    }

    [Fact]
    public void A_batch_stays_while_a_run_of_it_in_a_later_segment_stays()
    {
        // Its runs were still hot (the newest, a machine's last verdict) when the batch went to history: they followed it
        // into a later segment.
        RunStore store = Open();
        BatchRecord batch = store.AddBatch("split", "/plan.json", [Entry("a", "m7"), Entry("b", "m7")]);
        store.Update(store.TakeNext("m7", ["t"])!.Id, r => Finished(r) with { Run = Finished(r).Run with { EndedAt = _clock.Now } });
        _clock.Now += TimeSpan.FromDays(50);
        RunRecord recent = store.Update(store.TakeNext("m7", ["t"])!.Id, r => Finished(r) with { Run = Finished(r).Run with { EndedAt = _clock.Now } });
        store.Compact();
        Ended(store, machine: "m7");
        Enumerable.Range(0, 3).ToList().ForEach(_ => Ended(store));
        store.Compact();
        _clock.Now += TimeSpan.FromDays(50);

        PruneReport report = Open().Prune(NinetyDays);

        RunStore fresh = Open();
        Assert.Single(report.Runs, r => r.Run.BatchId == batch.Id);
        Assert.DoesNotContain(batch.Id, report.Batches);
        Batch progress = fresh.FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal(recent.Id, progress.Items!.Single(i => i.Name == "b").RunId);
        Assert.Equal(batch.Id, fresh.Get(recent.Id).Run.BatchId);
    }

    [Fact]
    public void An_age_longer_than_the_calendar_goes_back_prunes_nothing()
    {
        RunStore store = Open();
        RunRecord ended = Ended(store);
        _clock.Now += TimeSpan.FromDays(100);

        PruneReport report = Open().Prune(TimeSpan.FromDays(5_000_000));

        Assert.Empty(report.Runs);
        Assert.Equal([ended.Id], Open().List().Select(r => r.Id));
    }

    private static BatchEntry Entry(string name, string machine) => new()
    {
        Name = name,
        TestDir = $"/tests/{name}",
        TestDirHash = $"hash-{name}",
        Machine = machine,
        Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(5)),
    };
}
