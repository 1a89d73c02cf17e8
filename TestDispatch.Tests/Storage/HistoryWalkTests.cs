using System.IO.Abstractions;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// Real disk: a listing reads history after it lets state.lock go, while a prune (here another store, as another process
/// would be) replaces and deletes segments; the listing still sees every run of history as it was when it began. What a
/// walk holds open, and when the files a prune replaced go: a listing shares history.lock
/// instead of opening every segment (a hold of one fd per segment broke every listing past ~5M runs under ulimit -n 1024);
/// a prune removes replaced files only when no walk is under way, and a later prune removes what was left.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HistoryWalkTests : IDisposable
{
    private static readonly StoreOptions Small = new() { RecentRuns = 2, SegmentRuns = 3 };

    private readonly TempDir _state = new();
    private readonly MovableClock _clock = new();

    private sealed class MovableClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    public void Dispose() => _state.Dispose();

    private RunStore Open() => new(new FileSystem(), new FlockFileLocks(), _state.Path, _clock, Small);

    private string HistoryDir => Path.Combine(_state.Path, "history");

    private static RunRecord Ended(RunStore store, DateTimeOffset at, RunStatus status = RunStatus.Completed)
    {
        RunRecord run = store.Get(store.Prepare(Request("m1", hash: $"h-{Guid.NewGuid()}")).Run.Id);
        return store.Update(run.Id, r => r with
        {
            Run = r.Run with { Status = status, ExitCode = status == RunStatus.Completed ? 0 : 1, StartedAt = at, EndedAt = at },
        });
    }

    private static int OpenSegmentFds() =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
            .Count(fd => fd.LinkTarget is { } target && Path.GetFileName(target).StartsWith("segment.", StringComparison.Ordinal));

    private string[] Segments() => Directory.GetFiles(HistoryDir, "segment.*.jsonl");

    [Fact]
    public void A_listing_of_one_run_opens_one_segment_not_every_one()
    {
        RunStore store = Open();
        for (int i = 0; i < 40; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                Ended(store, DateTimeOffset.UtcNow);
            }
            store.Compact();
        }
        Assert.True(Segments().Length >= 30);

        using IEnumerator<RunRecord> listing = Open().Stream(new RunFilter(Limit: 1)).GetEnumerator();
        Assert.True(listing.MoveNext());

        Assert.InRange(OpenSegmentFds(), 0, 2);
    }

    [Fact]
    public void A_prune_during_a_walk_leaves_the_replaced_segments_to_it_and_the_next_prune_removes_them()
    {
        OldAndRecentRuns();
        string[] before = Segments();
        Assert.NotEmpty(before);

        List<string> listed = [];
        using (IEnumerator<RunRecord> walk = Open().Stream(new RunFilter()).GetEnumerator())
        {
            Assert.True(walk.MoveNext());
            listed.Add(walk.Current.Id);

            Assert.Equal(3, Open().Prune(TimeSpan.FromDays(90)).Runs.Count);
            Assert.All(before, segment => Assert.True(File.Exists(segment), $"{segment} went while a walk still needed it"));

            while (walk.MoveNext())
            {
                listed.Add(walk.Current.Id);
            }
        }
        Assert.Equal(10, listed.Distinct().Count());

        Assert.Empty(Open().Prune(TimeSpan.FromDays(90)).Runs);
        Assert.All(before, segment => Assert.False(File.Exists(segment), $"{segment}, replaced by the prune, is still in history/"));
        Assert.Equal(7, Open().Stream(new RunFilter()).Count());
    }

    /// <summary>Three old runs and seven recent ones, the old ones in the oldest segment (which a prune replaces).</summary>
    private void OldAndRecentRuns()
    {
        RunStore store = Open();
        DateTimeOffset old = DateTimeOffset.UtcNow.AddDays(-200);
        for (int i = 0; i < 3; i++)
        {
            Ended(store, old);
            Ended(store, DateTimeOffset.UtcNow);
        }
        for (int i = 0; i < 4; i++)
        {
            Ended(store, DateTimeOffset.UtcNow);
        }
        store.Compact();
    }

    [Fact]
    public void A_walk_whose_segment_goes_under_it_after_history_lock_was_deleted_fails_instead_of_leaving_runs_out()
    {
        // Segment 1: three old runs; segment 2: two old and four recent ones. A walk opens segment 2 first, segment 1 later.
        RunStore store = Open();
        for (int i = 0; i < 5; i++)
        {
            Ended(store, DateTimeOffset.UtcNow.AddDays(-200));
        }
        store.Compact();
        for (int i = 0; i < 6; i++)
        {
            Ended(store, DateTimeOffset.UtcNow);
        }
        store.Compact();
        Assert.Equal(2, Segments().Length);

        using IEnumerator<RunRecord> walk = Open().Stream(new RunFilter()).GetEnumerator();
        Assert.True(walk.MoveNext());
        File.Delete(Path.Combine(_state.Path, "history.lock")); // "a stale lock file"
        Assert.Equal(5, Open().Prune(TimeSpan.FromDays(90)).Runs.Count);

        DispatchException error = Assert.Throws<DispatchException>(() =>
        {
            while (walk.MoveNext())
            {
            }
        });
        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains("is gone, though the history index this listing read names it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_history_lock_that_cannot_be_opened_fails_no_prune_and_no_listing()
    {
        OldAndRecentRuns();
        File.Delete(Path.Combine(_state.Path, "history.lock"));
        Directory.CreateDirectory(Path.Combine(_state.Path, "history.lock"));
        List<RunRecord> all = [.. Open().Stream(new RunFilter())];

        PruneReport pruned = Open().Prune(TimeSpan.FromDays(90));

        Assert.Equal(3, pruned.Runs.Count);
        Assert.All(pruned.Runs, r => Assert.False(Directory.Exists(Path.Combine(_state.Path, "runs", r.Id)), $"run dir {r.Id} left behind"));
        Assert.Equal(all.Count - 3, Open().Stream(new RunFilter()).Count());
        Assert.Empty(Open().Prune(TimeSpan.FromDays(90)).Runs);
    }

    [Fact]
    public void A_prune_with_nothing_to_remove_clears_segments_a_crashed_prune_left()
    {
        RunStore store = Open();
        for (int i = 0; i < 6; i++)
        {
            Ended(store, DateTimeOffset.UtcNow);
        }
        store.Compact();
        string leftover = Path.Combine(HistoryDir, "segment.99.jsonl");
        File.Copy(Segments()[0], leftover);

        Assert.Empty(Open().Prune(TimeSpan.FromDays(90)).Runs);

        Assert.False(File.Exists(leftover), "a segment no index names is still in history/ after prune");
    }

    /// <summary>
    /// Segment 1: four old runs, two of them passed (prune goes for those). Segment 2: two old failed runs and three
    /// recent ones. Hot: two recent ones. A listing begun before the prune reaches segment 1 only after it.
    /// </summary>
    private List<string> TwoSegmentsAndHotRuns()
    {
        RunStore store = Open();
        List<RunRecord> runs = [.. new[] { RunStatus.Completed, RunStatus.Failed, RunStatus.Completed, RunStatus.Failed, RunStatus.Failed, RunStatus.Failed }
            .Select(status => Ended(store, _clock.Now, status))];
        store.Compact();
        _clock.Now += TimeSpan.FromDays(100);
        runs.AddRange(Enumerable.Range(0, 5).Select(_ => Ended(store, _clock.Now)));
        store.Compact();
        Assert.Equal(2, new History(new FileSystem(), store.Paths, new Durability(LibcFsync.Instance)).ReadIndex().Segments.Count);
        return [.. runs.Select(r => r.Id).Reverse()];
    }

    [Fact]
    public void A_listing_under_way_lists_every_run_of_a_segment_a_prune_rewrites_meanwhile()
    {
        List<string> all = TwoSegmentsAndHotRuns();

        string replaced = Path.Combine(_state.Path, "history", "segment.1.jsonl");
        List<string> listed;
        PruneReport pruned;
        using (IEnumerator<RunRecord> listing = Open().Stream().GetEnumerator())
        {
            Assert.True(listing.MoveNext());
            listed = [listing.Current.Id];
            pruned = Open().Prune(TimeSpan.FromDays(90), keepFailed: true);
            Assert.True(File.Exists(replaced), "the segment the prune replaced went while a listing still had to read it");
            while (listing.MoveNext())
            {
                listed.Add(listing.Current.Id);
            }
        }

        Assert.Equal(2, pruned.Runs.Count);
        Assert.Equal(all, listed);
        Assert.Empty(Open().Prune(TimeSpan.FromDays(90), keepFailed: true).Runs);
        Assert.False(File.Exists(replaced), "the next prune, with no walk under way, leaves the replaced segment");
        Assert.Equal(all.Except(pruned.Runs.Select(r => r.Id)), Open().List().Select(r => r.Id));
    }
}
