using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

/// <summary>The Runs tab's data: one page of runs across the hot state and history, a page more when asked.</summary>
[Trait("Category", "Unit")]
public class RunsPagingTests
{
    [Fact]
    public async Task The_runs_tab_loads_one_page_across_hot_and_history_and_more_when_asked()
    {
        FakeStateDir dir = new();
        RunStore store = dir.Open(new StoreOptions { RecentRuns = 10, SegmentRuns = 100 });
        List<string> ids = [];
        for (int i = 0; i < ScreenQuery.RunsPage + 300; i++)
        {
            ids.Add(store.Update(store.Prepare(Request(hash: $"h{i}")).Run.Id, r => Finished(Running(r))).Id);
            if (i % 400 == 399)
            {
                store.Compact();
            }
        }
        Lab lab = new(new LabConfig(FakeStateDir.Root, new RunDefaults(["./run.sh"], TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1)),
            [new Machine { Name = "m1", Transport = TransportKind.Local }]), store, dir.Fs, dir.Locks);

        ScreenData first = await ScreenData.LoadAsync(lab, new ScreenQuery());
        ScreenData more = await ScreenData.LoadAsync(lab, new ScreenQuery { RunsShown = 2 * ScreenQuery.RunsPage }, first);

        Assert.Equal(ids.AsEnumerable().Reverse().Take(ScreenQuery.RunsPage), first.AllRuns!.Select(r => r.Id));
        Assert.Equal(ids.AsEnumerable().Reverse(), more.AllRuns!.Select(r => r.Id));
        Assert.True(new History(dir.Fs, dir.Paths, new Durability(LibcFsync.For(dir.Fs))).ReadIndex().RunCount > 1_000);
    }
}
