using System.IO.Abstractions;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// A listing reads history after it lets state.lock go; a prune in another process meanwhile replaces and deletes the
/// segments it has still to read. On a real disk, the listing still sees every run of history as it was when it began.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ListingDuringPruneTests : IDisposable
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

    private RunRecord Ended(RunStore store, RunStatus status)
    {
        RunRecord run = store.Get(store.Prepare(Request("m1", hash: $"h-{Guid.NewGuid()}")).Run.Id);
        return store.Update(run.Id, r => r with
        {
            Run = r.Run with { Status = status, ExitCode = status == RunStatus.Completed ? 0 : 1, StartedAt = _clock.Now, EndedAt = _clock.Now },
        });
    }

    /// <summary>
    /// Segment 1: four old runs, two of them passed (prune goes for those). Segment 2: two old failed runs and three
    /// recent ones. Hot: two recent ones. A listing begun before the prune reaches segment 1 only after it.
    /// </summary>
    private List<string> TwoSegmentsAndHotRuns()
    {
        RunStore store = Open();
        List<RunRecord> runs = [.. new[] { RunStatus.Completed, RunStatus.Failed, RunStatus.Completed, RunStatus.Failed, RunStatus.Failed, RunStatus.Failed }
            .Select(status => Ended(store, status))];
        store.Compact();
        _clock.Now += TimeSpan.FromDays(100);
        runs.AddRange(Enumerable.Range(0, 5).Select(_ => Ended(store, RunStatus.Completed)));
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
