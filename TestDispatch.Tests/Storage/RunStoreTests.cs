using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

[Trait("Category", "Unit")]
public class RunStoreTests
{
    private readonly FakeStateDir _dir = new();

    [Fact]
    public void Prepare_creates_a_pending_run_with_its_paths_in_the_state_dir()
    {
        RunStore store = _dir.Open();

        PrepareOutcome outcome = store.Prepare(Request());

        Assert.Equal(PrepareKind.Created, outcome.Kind);
        Run run = outcome.Run;
        Assert.Equal(RunStatus.Pending, run.Status);
        Assert.Equal(("m1", "/tests/a", "hash-a"), (run.Machine, run.TestDir, run.TestDirHash));
        Assert.Null(run.ExitCode);
        Assert.Null(run.StartedAt);
        Assert.Equal($"/state/runs/{run.Id}/output.log", run.LogsPath);
        Assert.Equal($"/state/runs/{run.Id}/artifacts", run.ArtifactsPath);
        Assert.Matches("^[0-9a-f]{12}$", run.Id);
    }

    [Fact]
    public void Prepare_reuses_a_pending_run_with_the_same_hash()
    {
        RunStore store = _dir.Open();
        Run first = store.Prepare(Request()).Run;

        PrepareOutcome second = store.Prepare(Request(testDir: "/elsewhere/copy-of-a"));

        Assert.Equal(PrepareKind.Reused, second.Kind);
        Assert.Equal(first.Id, second.Run.Id);
        Assert.Single(store.List());
    }

    [Fact]
    public void Prepare_reuses_a_running_run_with_the_same_hash()
    {
        RunStore store = _dir.Open();
        Run first = store.Prepare(Request()).Run;
        store.Update(first.Id, Running);

        PrepareOutcome second = store.Prepare(Request());

        Assert.Equal((PrepareKind.Reused, first.Id, RunStatus.Running), (second.Kind, second.Run.Id, second.Run.Status));
    }

    [Fact]
    public void Prepare_refuses_a_busy_machine_and_returns_the_occupying_run()
    {
        RunStore store = _dir.Open();
        Run occupying = store.Prepare(Request(hash: "hash-a")).Run;

        PrepareOutcome outcome = store.Prepare(Request(hash: "hash-b"));

        Assert.Equal(PrepareKind.Busy, outcome.Kind);
        Assert.Equal(occupying.Id, outcome.Run.Id);
        Assert.Single(store.List());
    }

    [Theory]
    [InlineData(RunStatus.Completed)]
    [InlineData(RunStatus.Failed)]
    [InlineData(RunStatus.Interrupted)]
    [InlineData(RunStatus.Timeout)]
    public void Prepare_after_a_terminal_twin_creates_a_fresh_run(RunStatus terminal)
    {
        RunStore store = _dir.Open();
        Run first = store.Prepare(Request()).Run;
        store.Update(first.Id, r => Finished(Running(r), terminal));

        PrepareOutcome again = store.Prepare(Request());

        Assert.Equal(PrepareKind.Created, again.Kind);
        Assert.NotEqual(first.Id, again.Run.Id);
        Assert.Equal(2, store.List().Count);
    }

    [Fact]
    public void Prepare_on_another_machine_is_not_blocked()
    {
        RunStore store = _dir.Open();
        store.Prepare(Request(machine: "m1", hash: "hash-a"));

        PrepareOutcome other = store.Prepare(Request(machine: "m2", hash: "hash-b"));

        Assert.Equal(PrepareKind.Created, other.Kind);
    }

    [Fact]
    public void Update_refuses_to_change_a_terminal_run()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request()).Run;
        store.Update(run.Id, r => Finished(Running(r), RunStatus.Failed, 3));

        DispatchException error = Assert.Throws<DispatchException>(() => store.Update(run.Id, r => Finished(r, RunStatus.Completed)));

        Assert.Equal(ErrorCodes.IllegalTransition, error.ErrorCode);
        Assert.Contains("already failed", error.Message, StringComparison.Ordinal);
        Assert.Equal((RunStatus.Failed, 3), (store.Get(run.Id).Run.Status, store.Get(run.Id).Run.ExitCode));
    }

    [Fact]
    public void Update_refuses_to_move_a_running_run_back_to_pending()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request()).Run;
        store.Update(run.Id, Running);

        DispatchException error = Assert.Throws<DispatchException>(() =>
            store.Update(run.Id, r => r with { Run = r.Run with { Status = RunStatus.Pending } }));

        Assert.Equal(ErrorCodes.IllegalTransition, error.ErrorCode);
    }

    [Fact]
    public void Update_refuses_to_change_which_machine_a_run_is_on()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request(machine: "m1")).Run;

        Assert.Throws<DispatchException>(() => store.Update(run.Id, r => r with { Run = r.Run with { Machine = "m2" } }));
    }

    [Fact]
    public void Update_that_returns_the_record_unchanged_writes_nothing()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request()).Run;
        long length = _dir.Fs.FileInfo.New(_dir.Paths.Journal(0)).Length;

        store.Update(run.Id, r => r);

        Assert.Equal(length, _dir.Fs.FileInfo.New(_dir.Paths.Journal(0)).Length);
    }

    [Fact]
    public void Another_store_instance_sees_every_change()
    {
        RunStore writer = _dir.Open();
        RunStore reader = _dir.Open();
        Run run = writer.Prepare(Request()).Run;
        Assert.Equal(RunStatus.Pending, reader.Get(run.Id).Run.Status);

        writer.Update(run.Id, r => Finished(Running(r), RunStatus.Completed));

        Assert.Equal(RunStatus.Completed, reader.Get(run.Id).Run.Status);
        Assert.Equal(PrepareKind.Created, reader.Prepare(Request()).Kind);
    }

    [Fact]
    public void A_torn_last_journal_line_is_ignored_and_cut_off_by_the_next_append()
    {
        RunStore store = _dir.Open();
        Run kept = store.Prepare(Request(machine: "m1")).Run;
        string journal = _dir.Paths.Journal(0);
        _dir.Fs.File.AppendAllText(journal, "{\"run\":{\"run\":{\"id\":\"torn");

        RunStore reopened = _dir.Open();
        Assert.Equal([kept.Id], reopened.List().Select(r => r.Id));
        Run added = reopened.Prepare(Request(machine: "m2")).Run;

        string[] lines = _dir.Fs.File.ReadAllLines(journal);
        Assert.Equal(2, lines.Length);
        Assert.DoesNotContain("torn", _dir.Fs.File.ReadAllText(journal), StringComparison.Ordinal);
        Assert.Equal(2, _dir.Open().List().Count);
        Assert.Equal(RunStatus.Pending, _dir.Open().Get(added.Id).Run.Status);
    }

    [Fact]
    public void A_damaged_journal_line_is_reported_with_its_path_and_line_and_left_untouched()
    {
        RunStore store = _dir.Open();
        store.Prepare(Request(machine: "m1"));
        string journal = _dir.Paths.Journal(0);
        _dir.Fs.File.AppendAllText(journal, "this is not json\n");
        byte[] before = _dir.Fs.File.ReadAllBytes(journal);

        DispatchException error = Assert.Throws<DispatchException>(() => _dir.Open().List());
        Assert.Throws<DispatchException>(() => _dir.Open().Prepare(Request(machine: "m3")));

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains($"{journal}:2", error.Message, StringComparison.Ordinal);
        Assert.Contains("doctor --repair", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, _dir.Fs.File.ReadAllBytes(journal));
    }

    [Fact]
    public void A_damaged_snapshot_is_reported_and_left_untouched()
    {
        RunStore store = _dir.Open();
        store.Prepare(Request());
        store.Compact();
        _dir.Fs.File.WriteAllText(_dir.Paths.Snapshot, "{\"generation\":1,\"runs\":[{\"run\":");
        byte[] before = _dir.Fs.File.ReadAllBytes(_dir.Paths.Snapshot);

        DispatchException error = Assert.Throws<DispatchException>(() => _dir.Open().List());

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains(_dir.Paths.Snapshot, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, _dir.Fs.File.ReadAllBytes(_dir.Paths.Snapshot));
    }

    [Fact]
    public void Compaction_keeps_every_run_and_empties_the_journal()
    {
        RunStore store = _dir.Open(new StoreOptions { CompactAfterLines = 10 });
        List<string> ids = [];
        for (int i = 0; i < 12; i++)
        {
            Run run = store.Prepare(Request(machine: $"m{i}")).Run;
            store.Update(run.Id, r => Finished(Running(r)));
            ids.Add(run.Id);
        }

        string[] journals = _dir.Fs.Directory.GetFiles(FakeStateDir.Root, "journal.*.jsonl");
        Assert.True(_dir.Fs.File.Exists(_dir.Paths.Snapshot));
        Assert.All(journals, j => Assert.True(_dir.Fs.File.ReadAllLines(j).Length < 10));
        RunStore reopened = _dir.Open();
        Assert.Equal(ids.AsEnumerable().Reverse(), reopened.List().Select(r => r.Id));
        Assert.All(reopened.List(), r => Assert.Equal(RunStatus.Completed, r.Run.Status));
    }

    [Fact]
    public void A_store_that_read_before_a_compaction_by_another_instance_catches_up()
    {
        RunStore first = _dir.Open();
        RunStore second = _dir.Open();
        Run run = first.Prepare(Request(machine: "m1")).Run;
        Assert.Single(second.List());

        first.Compact();
        first.Update(run.Id, r => Finished(Running(r)));

        Assert.Equal(RunStatus.Completed, second.Get(run.Id).Run.Status);
    }

    [Fact]
    public void List_filters_by_status_machine_and_batch_newest_first()
    {
        RunStore store = _dir.Open();
        Run a = store.Prepare(Request(machine: "m1", batch: "b1")).Run;
        store.Update(a.Id, r => Finished(Running(r), RunStatus.Failed, 1));
        Run b = store.Prepare(Request(machine: "m1", hash: "h2")).Run;
        Run c = store.Prepare(Request(machine: "m2", batch: "b1")).Run;

        Assert.Equal([c.Id, b.Id, a.Id], store.List().Select(r => r.Id));
        Assert.Equal([b.Id, a.Id], store.List(new RunFilter(Machine: "m1")).Select(r => r.Id));
        Assert.Equal([a.Id], store.List(new RunFilter(Status: RunStatus.Failed)).Select(r => r.Id));
        Assert.Equal([c.Id, a.Id], store.List(new RunFilter(BatchId: "b1")).Select(r => r.Id));
        Assert.Equal([c.Id], store.List(new RunFilter(Status: RunStatus.Pending, BatchId: "b1")).Select(r => r.Id));
        Assert.Equal([c.Id], store.List(new RunFilter(Limit: 1)).Select(r => r.Id));
    }

    [Fact]
    public void Find_accepts_a_unique_prefix_and_refuses_unknown_or_ambiguous_ones()
    {
        RunStore store = _dir.Open();
        List<Run> runs = [.. Enumerable.Range(0, 40).Select(i => store.Prepare(Request(machine: $"m{i}")).Run)];
        Run target = runs[0];
        string unique = Enumerable.Range(1, 12).Select(n => target.Id[..n])
            .First(p => runs.Count(r => r.Id.StartsWith(p, StringComparison.Ordinal)) == 1);
        IGrouping<char, Run> shared = runs.GroupBy(r => r.Id[0]).First(g => g.Count() > 1);

        Assert.Equal(target.Id, store.Find(unique).Id);
        Assert.Equal(target.Id, store.Find(target.Id.ToUpperInvariant()).Id);
        Assert.Equal(ErrorCodes.AmbiguousId, Assert.Throws<DispatchException>(() => store.Find(shared.Key.ToString())).ErrorCode);
        Assert.Equal(ErrorCodes.RunNotFound, Assert.Throws<DispatchException>(() => store.Find("zz")).ErrorCode);
    }

    [Fact]
    public void A_store_whose_lock_is_held_elsewhere_gives_up_with_state_locked()
    {
        RunStore store = _dir.Open(new StoreOptions { LockTimeout = TimeSpan.FromMilliseconds(50) });
        using IDisposable held = _dir.Locks.Acquire(_dir.Paths.StateLock, TimeSpan.FromSeconds(1));

        DispatchException error = Assert.Throws<DispatchException>(() => store.Prepare(Request()));

        Assert.Equal(ErrorCodes.StateLocked, error.ErrorCode);
        Assert.Contains("state.lock", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_operation_releases_the_state_lock()
    {
        RunStore store = _dir.Open();
        store.Prepare(Request());
        Assert.Throws<DispatchException>(() => store.Find("zz"));

        Assert.False(_dir.Locks.IsHeld(_dir.Paths.StateLock));
    }
}
