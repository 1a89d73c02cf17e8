using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

/// <summary>The incremental refresh: the store's change cursor, and the shown list patched in place.</summary>
[Trait("Category", "Unit")]
public class RunsViewTests
{
    private readonly FakeStateDir _dir = new();

    [Fact]
    public void Changes_since_a_cursor_are_each_changed_run_once_as_it_is_now_including_other_processes_writes()
    {
        RunStore mine = _dir.Open();
        RunRecord a = Record(mine, mine.Prepare(Request(machine: "m1", hash: "a")).Run.Id);
        (_, _, long cursor) = mine.ListWithCursor(RunFilter.All);
        RunStore other = _dir.Open();
        other.Update(a.Id, Running);
        Run b = other.Prepare(Request(machine: "m2", hash: "b")).Run;
        other.Update(a.Id, r => Finished(r));

        (IReadOnlyList<RunRecord>? changed, _, long next) = mine.ChangesSince(cursor);

        Assert.NotNull(changed);
        Assert.Equal([a.Id, b.Id], changed.Select(r => r.Id));
        Assert.Equal(RunStatus.Completed, changed[0].Run.Status);
        Assert.Empty(mine.ChangesSince(next).Runs!);
    }

    [Fact]
    public void A_cursor_from_before_a_reload_of_another_processs_compaction_asks_for_a_relist()
    {
        RunStore mine = _dir.Open();
        mine.Prepare(Request(machine: "m1", hash: "a"));
        (_, _, long cursor) = mine.ListWithCursor(RunFilter.All);
        RunStore other = _dir.Open();
        other.Prepare(Request(machine: "m2", hash: "b"));
        other.Compact();

        Assert.Null(mine.ChangesSince(cursor).Runs);
    }

    [Fact]
    public void A_patch_replaces_shown_runs_in_their_rows_and_puts_new_ones_on_top()
    {
        RunStore store = _dir.Open();
        Run old = store.Prepare(Request(machine: "m1", hash: "a")).Run;
        Run mid = store.Prepare(Request(machine: "m2", hash: "b")).Run;
        (IReadOnlyList<RunRecord> all, _, long cursor) = store.ListWithCursor(RunFilter.All);
        RunsView view = new(all, RunFilter.All);
        store.Update(old.Id, Running);
        Run fresh = store.Prepare(Request(machine: "m3", hash: "c")).Run;
        List<int> rows = [];

        Assert.True(view.TryPatch(store.ChangesSince(cursor).Runs!, out int added, rows));

        Assert.Equal(1, added);
        Assert.Equal([fresh.Id, mid.Id, old.Id], Enumerable.Range(0, view.Count).Select(i => view[i].Id));
        Assert.Equal(RunStatus.Running, view[2].Status);
        Assert.Equal([2], rows);
        Assert.Equal(1, view.RowOf(mid.Id));
    }

    [Fact]
    public void A_patch_that_would_move_a_run_out_of_or_into_the_middle_of_a_filtered_list_is_refused()
    {
        RunStore store = _dir.Open();
        Run a = store.Prepare(Request(machine: "m1", hash: "a")).Run;
        store.Prepare(Request(machine: "m2", hash: "b"));
        RunFilter pendingOnly = new(Text: "pending");
        (IReadOnlyList<RunRecord> all, _, long cursor) = store.ListWithCursor(pendingOnly);
        RunsView view = new(all, pendingOnly);
        store.Update(a.Id, Running); // no longer matches "pending"

        Assert.False(view.TryPatch(store.ChangesSince(cursor).Runs!, out _, []));
        Assert.Equal(2, view.Count); // untouched
    }

    private static RunRecord Record(RunStore store, string id) => store.Get(id);
}
