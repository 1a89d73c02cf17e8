using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>doctor --repair on history: its index and id index are rebuilt from the segments, nothing readable lost.</summary>
[Trait("Category", "Unit")]
public class HistoryRepairTests
{
    private static readonly StoreOptions Small = new() { RecentRuns = 1, SegmentRuns = 2 };
    private readonly FakeStateDir _dir = new();

    private List<RunRecord> MakeHistory()
    {
        RunStore store = _dir.Open(Small);
        List<RunRecord> runs = [];
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                RunRecord run = store.Get(store.Prepare(Request(hash: $"h-{i}-{j}")).Run.Id);
                runs.Add(store.Update(run.Id, r => Finished(Running(r))));
            }
            store.Compact();
        }
        return runs;
    }

    [Fact]
    public void A_lost_id_index_is_reported_and_rebuilt_so_every_run_is_found_again()
    {
        List<RunRecord> runs = MakeHistory();
        foreach (string ids in _dir.Fs.Directory.GetFiles(_dir.Paths.HistoryDir, "ids.*"))
        {
            _dir.Fs.File.Delete(ids);
        }
        Assert.Contains("id index", _dir.Open(Small).CheckHistory());

        RepairReport report = StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);

        Assert.True(report.WasDamaged);
        Assert.NotNull(report.History);
        Assert.Null(_dir.Open(Small).CheckHistory());
        Assert.All(runs, r => Assert.Equal(r.Id, _dir.Open(Small).Get(r.Id).Id));
    }

    [Fact]
    public void A_deleted_history_index_is_an_error_naming_the_fix_not_a_history_that_is_gone()
    {
        // Deleting history/index.json made every run in history vanish from listings, without a word.
        List<RunRecord> runs = MakeHistory();
        _dir.Fs.File.Delete(_dir.Paths.HistoryIndex);

        DispatchException error = Assert.Throws<DispatchException>(() => _dir.Open(Small).List());
        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains(_dir.Paths.HistoryIndex, error.Message);
        Assert.Contains("doctor --repair", error.Message);

        RepairReport report = StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);

        Assert.NotNull(report.History);
        Assert.Equal(runs.Select(r => r.Id).Reverse(), _dir.Open(Small).List().Select(r => r.Id));
    }

    [Fact]
    public void Segments_a_crash_left_before_the_first_index_are_not_damage()
    {
        RunStore store = _dir.Open(Small);
        List<RunRecord> runs = [.. Enumerable.Range(0, 4).Select(i => store.Update(store.Prepare(Request(hash: $"h-{i}")).Run.Id, r => Finished(Running(r))))];
        store.Compact();
        // As if the first compaction had been killed after writing its segment: no index, and a snapshot from before.
        _dir.Fs.File.Delete(_dir.Paths.HistoryIndex);
        new SnapshotFile(_dir.Fs, _dir.Paths).Write(new Snapshot(99, runs));

        RunStore fresh = _dir.Open(Small);

        Assert.Null(fresh.CheckHistory());
        Assert.Equal(runs.Select(r => r.Id).Reverse(), fresh.List().Select(r => r.Id));
    }

    [Fact]
    public void A_damaged_segment_is_backed_up_and_its_readable_runs_kept()
    {
        List<RunRecord> runs = MakeHistory();
        string segment = _dir.Paths.Segment(1);
        List<string> lines = [.. _dir.Fs.File.ReadAllLines(segment)];
        string broken = lines[1];
        lines[1] = broken[..(broken.Length / 2)];
        _dir.Fs.File.WriteAllLines(segment, lines);
        _dir.Fs.File.WriteAllText(_dir.Paths.HistoryIndex, "{ not json");
        Assert.NotNull(_dir.Open(Small).CheckHistory());

        RepairReport report = StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);

        Assert.Equal(1, report.History!.LinesDropped);
        Assert.Contains(report.Backups, b => b.StartsWith(segment + ".corrupt-", StringComparison.Ordinal));
        Assert.Contains(report.Backups, b => b.StartsWith(_dir.Paths.HistoryIndex + ".corrupt-", StringComparison.Ordinal));
        RunStore store = _dir.Open(Small);
        Assert.Null(store.CheckHistory());
        Assert.Equal(runs.Count - 1, store.List().Count);
    }

    [Fact]
    public void A_segment_cut_short_under_a_sound_index_is_reported_and_rebuilt()
    {
        List<RunRecord> runs = MakeHistory();
        string segment = _dir.Paths.Segment(1);
        byte[] bytes = _dir.Fs.File.ReadAllBytes(segment);
        _dir.Fs.File.WriteAllBytes(segment, bytes[..(bytes.Length - 10)]);
        Assert.Contains(segment, _dir.Open(Small).CheckHistory());

        RepairReport report = StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);

        Assert.Equal(1, report.History!.LinesDropped);
        RunStore store = _dir.Open(Small);
        Assert.Null(store.CheckHistory());
        Assert.Equal(runs.Count - 1, store.List().Count);
    }

    [Fact]
    public void Repair_rebuilds_a_segment_with_a_garbled_line_of_the_same_length()
    {
        List<RunRecord> runs = MakeHistory();
        string segment = _dir.Paths.Segment(1);
        byte[] bytes = _dir.Fs.File.ReadAllBytes(segment);
        int second = Array.IndexOf(bytes, (byte)'\n') + 1;
        "GARBAGE!"u8.CopyTo(bytes.AsSpan(second + 20));
        _dir.Fs.File.WriteAllBytes(segment, bytes);
        Assert.Throws<DispatchException>(() => _dir.Open(Small).List());

        RepairReport report = StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);

        Assert.Equal(1, report.History!.LinesDropped);
        RunStore store = _dir.Open(Small);
        Assert.Null(store.CheckHistory());
        Assert.Equal(runs.Count - 1, store.List().Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_lost_or_cut_id_index_is_damage_not_a_run_that_is_not_there(bool lost)
    {
        List<RunRecord> runs = MakeHistory();
        string ids = Assert.Single(_dir.Fs.Directory.GetFiles(_dir.Paths.HistoryDir, "ids.*"));
        if (lost)
        {
            _dir.Fs.File.Delete(ids);
        }
        else
        {
            byte[] bytes = _dir.Fs.File.ReadAllBytes(ids);
            _dir.Fs.File.WriteAllBytes(ids, bytes[..(bytes.Length - 10)]);
        }
        RunStore store = _dir.Open(Small);

        DispatchException shown = Assert.Throws<DispatchException>(() => store.Get(runs[0].Id));
        // Nor may the store go on (a new id is checked against it), or its next segment would come with an id index
        // missing everything the lost one held, which doctor would then find whole.
        DispatchException made = Assert.Throws<DispatchException>(() => store.Prepare(Request(hash: "after")));

        Assert.Equal(ErrorCodes.StateCorrupt, shown.ErrorCode);
        Assert.Contains(ids, shown.Message);
        Assert.Equal(ErrorCodes.StateCorrupt, made.ErrorCode);
        StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);
        Assert.All(runs, r => Assert.Equal(r.Id, _dir.Open(Small).Get(r.Id).Id));
    }

    [Fact]
    public void A_healthy_history_is_left_alone()
    {
        MakeHistory();
        string[] before = [.. _dir.Fs.AllFiles.Order()];

        RepairReport report = StoreRepair.Repair(_dir.Fs, _dir.Locks, FakeStateDir.Root);

        Assert.False(report.WasDamaged);
        Assert.Equal(before, _dir.Fs.AllFiles.Order());
    }
}
