using System.IO.Abstractions;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// Real disk: what a walk of history holds open, and when the files a prune replaced go. A listing shares history.lock
/// instead of opening every segment (a hold of one fd per segment broke every listing past ~5M runs under ulimit -n 1024);
/// a prune removes replaced files only when no walk is under way, and a later prune removes what was left.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HistoryWalkTests : IDisposable
{
    private static readonly StoreOptions Small = new() { RecentRuns = 2, SegmentRuns = 3 };

    private readonly TempDir _state = new();

    public void Dispose() => _state.Dispose();

    private RunStore Open() => new(new FileSystem(), new FlockFileLocks(), _state.Path, TimeProvider.System, Small);

    private string HistoryDir => Path.Combine(_state.Path, "history");

    private static void Ended(RunStore store, DateTimeOffset at)
    {
        RunRecord run = store.Get(store.Prepare(Request("m1", hash: $"h-{Guid.NewGuid()}")).Run.Id);
        store.Update(run.Id, r => r with { Run = r.Run with { Status = RunStatus.Completed, ExitCode = 0, StartedAt = at, EndedAt = at } });
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
}
