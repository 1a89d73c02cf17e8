using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Wrapper;
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
    public void A_run_whose_machine_is_held_elsewhere_goes_back_to_pending_only_with_its_start_undone_and_the_reason_said()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request()).Run;
        store.Update(run.Id, Running);
        RunRecord Back(RunRecord r, string code) => r with { Run = r.Run with { Status = RunStatus.Pending, StartedAt = null, ErrorCode = code, ErrorMsg = "held by alice" } };

        DispatchException unsaid = Assert.Throws<DispatchException>(() => store.Update(run.Id, r => Back(r, "")));
        store.Update(run.Id, r => Back(r, ErrorCodes.MachineBusyElsewhere));

        Assert.Equal(ErrorCodes.IllegalTransition, unsaid.ErrorCode);
        Assert.Equal((RunStatus.Pending, null, ErrorCodes.MachineBusyElsewhere), (store.Get(run.Id).Run.Status, store.Get(run.Id).Run.StartedAt, store.Get(run.Id).Run.ErrorCode));
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
    public void A_snapshot_with_a_field_of_the_wrong_type_is_reported_and_left_untouched()
    {
        RunStore store = _dir.Open();
        store.Prepare(Request());
        store.Compact();
        string damaged = _dir.Fs.File.ReadAllText(_dir.Paths.Snapshot).Replace("\"seq\":1", "\"seq\":\"1\"", StringComparison.Ordinal);
        _dir.Fs.File.WriteAllText(_dir.Paths.Snapshot, damaged);

        DispatchException error = Assert.Throws<DispatchException>(() => _dir.Open().List());

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains(_dir.Paths.Snapshot, error.Message, StringComparison.Ordinal);
        Assert.Contains("expected an integer", error.Message, StringComparison.Ordinal);
        Assert.Equal(damaged, _dir.Fs.File.ReadAllText(_dir.Paths.Snapshot));
    }

    [Fact]
    public void A_store_written_in_the_previous_format_still_loads_with_every_value()
    {
        // Verbatim from the store before nulls were left out (with a duplicate "id" per record).
        const string oldRecord =
            "{\"run\":{\"id\":\"0a1b2c3d4e5f\",\"machine\":\"lab-m01\",\"test_dir\":\"/tests/a\",\"test_dir_hash\":\"hash-a\",\"status\":\"failed\",\"exit_code\":3," +
            "\"started_at\":\"2026-01-05T08:00:02.250Z\",\"ended_at\":\"2026-01-05T08:01:00.000Z\",\"artifacts_path\":\"/state/runs/0a1b2c3d4e5f/artifacts\"," +
            "\"logs_path\":\"/state/runs/0a1b2c3d4e5f/output.log\",\"error_code\":\"timeout\",\"error_msg\":\"took \\u0022too\\u0022 long\\n\",\"batch_id\":\"b-7\",\"plan_entry\":\"smoke\"}," +
            "\"spec\":{\"command\":[\"./run.sh\",\"--fast\"],\"timeout\":\"00:05:00\"},\"seq\":7,\"created_at\":\"2026-01-05T08:00:00+00:00\"," +
            "\"process\":{\"process_group_id\":4321,\"start_ticks\":987654321,\"agent_pid\":1234},\"cancel_requested_at\":\"2026-01-05T08:00:30+00:00\",\"id\":\"0a1b2c3d4e5f\"}";
        const string oldPending =
            "{\"run\":{\"id\":\"ffeeddccbbaa\",\"machine\":\"lab-m02\",\"test_dir\":\"/tests/b\",\"test_dir_hash\":\"hash-b\",\"status\":\"pending\",\"exit_code\":null," +
            "\"started_at\":null,\"ended_at\":null,\"artifacts_path\":\"/state/runs/ffeeddccbbaa/artifacts\",\"logs_path\":\"/state/runs/ffeeddccbbaa/output.log\"," +
            "\"error_code\":\"\",\"error_msg\":\"\"},\"spec\":{\"command\":[\"./run.sh\"],\"timeout\":\"00:30:00\"},\"seq\":8,\"created_at\":\"2026-01-05T09:00:00+00:00\"," +
            "\"process\":null,\"cancel_requested_at\":null,\"id\":\"ffeeddccbbaa\"}";
        _dir.Fs.Directory.CreateDirectory(FakeStateDir.Root);
        _dir.Fs.File.WriteAllText(_dir.Paths.Snapshot, $"{{\"generation\":1,\"runs\":[{oldPending}]}}");
        _dir.Fs.File.WriteAllText(_dir.Paths.Journal(1), $"{{\"run\":{oldRecord}}}\n");

        RunStore store = _dir.Open();

        RunRecord full = store.Get("0a1b2c3d4e5f");
        Assert.Equal(
            ("lab-m01", "/tests/a", "hash-a", RunStatus.Failed, 3, "timeout", "took \"too\" long\n", "b-7", "smoke"),
            (full.Run.Machine, full.Run.TestDir, full.Run.TestDirHash, full.Run.Status, full.Run.ExitCode, full.Run.ErrorCode, full.Run.ErrorMsg, full.Run.BatchId, full.Run.PlanEntry));
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 8, 0, 2, 250, TimeSpan.Zero), full.Run.StartedAt);
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 8, 1, 0, TimeSpan.Zero), full.Run.EndedAt);
        Assert.Equal(("/state/runs/0a1b2c3d4e5f/artifacts", "/state/runs/0a1b2c3d4e5f/output.log"), (full.Run.ArtifactsPath, full.Run.LogsPath));
        Assert.Equal(["./run.sh", "--fast"], full.Spec.Command);
        Assert.Equal((TimeSpan.FromMinutes(5), 7L, new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero)), (full.Spec.Timeout, full.Seq, full.CreatedAt));
        Assert.Equal(new RunProcess { ProcessGroupId = 4321, StartTicks = 987654321, AgentPid = 1234 }, full.Process);
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 8, 0, 30, TimeSpan.Zero), full.CancelRequestedAt);
        RunRecord pending = store.Get("ffeeddccbbaa");
        Assert.Equal((RunStatus.Pending, null, null, null, "", ""),
            (pending.Run.Status, pending.Run.ExitCode, pending.Run.StartedAt, pending.Run.EndedAt, pending.Run.ErrorCode, pending.Run.ErrorMsg));
        Assert.Equal((null, null, null, null), (pending.Process, pending.CancelRequestedAt, pending.Run.BatchId, pending.Run.PlanEntry));
        Assert.Equal(2, store.List().Count);
        Assert.Equal(PrepareKind.Busy, store.Prepare(Request(machine: "lab-m02")).Kind);
    }

    [Fact]
    public void A_finished_run_no_longer_keeps_its_process()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request()).Run;
        RunProcess process = new() { Host = "local", BootId = "b", RunDir = "/state/runs/x", WrapperPid = 4300, WrapperStartTicks = 5, ProcessGroupId = 4321, StartTicks = 987654321, StartUptime = 12.5, AgentPid = 1234 };
        store.Update(run.Id, r => Running(r) with { Process = process });
        Assert.Equal(process, _dir.Open().Get(run.Id).Process);

        RunRecord finished = store.Update(run.Id, r => Finished(r));

        Assert.Null(finished.Process);
        Assert.Null(store.Get(run.Id).Process);
        Assert.Null(_dir.Open().Get(run.Id).Process);
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
    public void A_new_snapshot_is_parsed_while_the_state_lock_is_free_and_then_used()
    {
        RunStore first = _dir.Open();
        Run run = first.Prepare(Request()).Run;
        first.Compact();
        string snapshot = _dir.Fs.File.ReadAllText(_dir.Paths.Snapshot);
        string headerOnly = snapshot[..(snapshot.IndexOf('\n', StringComparison.Ordinal) + 1)];
        // Same generation, runs gone, just before the second acquire: a store that parsed the snapshot while the lock was
        // free (after the first acquire found it new) still has the run; one that read it under the lock would not.
        RunStore second = new(_dir.Fs, new InterleavedLocks(_dir.Locks, 2, () => _dir.Fs.File.WriteAllText(_dir.Paths.Snapshot, headerOnly)), FakeStateDir.Root);

        Assert.Equal(RunStatus.Pending, second.Get(run.Id).Run.Status);
    }

    [Fact]
    public void A_snapshot_replaced_while_waiting_for_the_state_lock_is_read_again_under_it()
    {
        RunStore first = _dir.Open();
        Run run = first.Prepare(Request()).Run;
        first.Compact();
        RunStore second = new(_dir.Fs, new InterleavedLocks(_dir.Locks, 2, () =>
        {
            first.Update(run.Id, r => Finished(Running(r)));
            first.Compact();
        }), FakeStateDir.Root);

        Assert.Equal(RunStatus.Completed, second.Get(run.Id).Run.Status);
        Assert.Equal(2, new SnapshotFile(_dir.Fs, _dir.Paths).ReadGeneration());
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

    /// <summary>
    /// Runs <paramref name="meanwhile"/> just before take number <paramref name="at"/> of the store's lock (whose first step
    /// is the state dir's own lock): what another process does in between.
    /// </summary>
    private sealed class InterleavedLocks(IFileLocks inner, int at, Action meanwhile) : IFileLocks
    {
        private int _acquires;

        public IDisposable? TryAcquire(string path) => inner.TryAcquire(path);

        public IDisposable? TryAcquireShared(string path) => inner.TryAcquireShared(path);

        public bool StillHolds(IDisposable held, string path) => inner.StillHolds(held, path);

        public IDisposable Acquire(string path, TimeSpan timeout)
        {
            if (path == FakeStateDir.Root && Interlocked.Increment(ref _acquires) == at)
            {
                meanwhile();
            }
            return inner.Acquire(path, timeout);
        }
    }

    [Fact]
    public void An_update_that_is_not_durable_is_still_seen_by_another_process_and_kept_by_the_next_append()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request()).Run;
        store.Update(run.Id, Running);

        store.Update(run.Id, r => r with { Process = new RunProcess { WrapperPid = 4200, ProcessGroupId = 4242, StartTicks = 99, AgentPid = 4000 } }, durable: false);

        Assert.Equal(4242, _dir.Open().Get(run.Id).Process?.ProcessGroupId);
        store.Update(run.Id, r => Finished(r));
        Assert.Equal(RunStatus.Completed, _dir.Open().Get(run.Id).Run.Status);
        Assert.Equal(4, _dir.Fs.File.ReadAllLines(_dir.Paths.Journal(0)).Length); // prepare, running, process, verdict
    }
}
