using System.IO.Abstractions;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The persisted runs of one state dir (DESIGN §4–§5). Every operation takes the cross-process state
/// lock, catches up with what other processes appended (only the new journal bytes), then acts. A
/// write is one fsync'd journal append, acknowledged only after it is durable; compaction folds the
/// journal into snapshot.json so neither grows without bound. Keeps invariants 1 (one active run per
/// machine), 2 (atomic prepare) and 3 (durable before acknowledged); never overwrites damaged state.
/// A write or fsync that fails is an error (disk_full, state_unwritable), never acknowledged: its line is taken back,
/// it never enters this instance's state, and the instance reads the disk afresh before its next operation.
/// </summary>
public sealed class RunStore
{
    private readonly IFileSystem _fs;
    private readonly IFileLocks _locks;
    private readonly TimeProvider _clock;
    private readonly StoreOptions _options;
    private readonly SnapshotFile _snapshot;
    private readonly Durability _durability;
    private readonly RunIndex _index = new();
    private readonly Lock _gate = new();

    private const int ChangeLogLimit = 50_000;
    private readonly List<string> _changeLog = [];
    private long _changeBase;
    private long _batchChanges;
    private long _generation = -1;
    private JournalFile? _journal;
    private long _journalOffset;
    private int _journalLines;
    private int _compactAt;

    /// <param name="fsync">How written bytes are made durable; by default libc's fsync on the real disk (see <see cref="IFsync"/>).</param>
    public RunStore(IFileSystem fs, IFileLocks locks, string stateDir, TimeProvider? clock = null, StoreOptions? options = null, IFsync? fsync = null)
    {
        _fs = fs;
        _locks = locks;
        _clock = clock ?? TimeProvider.System;
        _options = options ?? new StoreOptions();
        _compactAt = _options.CompactAfterLines;
        _durability = new Durability(fsync ?? LibcFsync.For(fs));
        Paths = new StatePaths(fs.Path.GetFullPath(stateDir));
        _snapshot = new SnapshotFile(fs, Paths, _durability);
        TightenedFrom = StateDirectory.Ensure(fs, Paths.Root);
    }

    public StatePaths Paths { get; }

    /// <summary>The mode the state dir had if opening it had to make it 0700 (other users could read it), else null.</summary>
    public UnixFileMode? TightenedFrom { get; }

    /// <summary>Grows whenever this store instance sees a change (its own or another process's).</summary>
    public long Version { get; private set; }

    /// <summary>Catches up with the disk; returns <see cref="Version"/> so a caller can tell whether anything changed.</summary>
    public long Refresh() => Locked(() => Version);

    public RunRecord Get(string id) =>
        Locked(() => _index.Get(id)) ?? throw new DispatchException(ErrorCodes.RunNotFound, $"no run with id '{id}'; 'testdispatch runs' lists them");

    /// <summary>Finds a run by its id or any unique prefix of it.</summary>
    public RunRecord Find(string idOrPrefix)
    {
        string wanted = idOrPrefix.Trim().ToLowerInvariant();
        if (wanted.Length == 0)
        {
            throw new DispatchException(ErrorCodes.BadInput, "a run id is empty; give an id or a unique prefix of one");
        }
        return Locked(() =>
        {
            if (_index.Get(wanted) is { } exact)
            {
                return exact;
            }
            List<string> matches = [.. _index.Ids.Where(id => id.StartsWith(wanted, StringComparison.Ordinal)).Take(5)];
            return matches.Count switch
            {
                1 => _index.Get(matches[0])!,
                0 => throw new DispatchException(ErrorCodes.RunNotFound, $"no run id starts with '{idOrPrefix}'; 'testdispatch runs' lists them"),
                _ => throw new DispatchException(ErrorCodes.AmbiguousId,
                    $"run id prefix '{idOrPrefix}' matches several runs ({string.Join(", ", matches)}…); type more of the id"),
            };
        });
    }

    /// <summary>Runs matching <paramref name="filter"/>, newest first.</summary>
    public IReadOnlyList<RunRecord> List(RunFilter? filter = null)
    {
        filter ??= RunFilter.All;
        return Locked(() =>
        {
            IEnumerable<RunRecord> matching = _index.NewestFirst().Where(r => filter.Matches(r.Run));
            return (IReadOnlyList<RunRecord>)[.. filter.Limit is { } limit ? matching.Take(limit) : matching];
        });
    }

    /// <summary>Runs matching <paramref name="filter"/>, newest first, and the change cursor they are as of (for <see cref="ChangesSince"/>).</summary>
    public (IReadOnlyList<RunRecord> Runs, long BatchChanges, long Cursor) ListWithCursor(RunFilter filter) => Locked(() =>
    {
        IEnumerable<RunRecord> matching = _index.NewestFirst().Where(r => filter.Matches(r.Run));
        return ((IReadOnlyList<RunRecord>)[.. filter.Limit is { } limit ? matching.Take(limit) : matching], _batchChanges, ChangeCursor);
    });

    /// <summary>
    /// The runs that changed after <paramref name="cursor"/> (each once, as it is now), whether any batch record changed,
    /// and the new cursor: what a screen that already shows everything up to the cursor needs to patch itself. Runs is
    /// null when the cursor is too old to answer (the store was reloaded from a newer snapshot, or many changes ago):
    /// list everything again.
    /// </summary>
    public (IReadOnlyList<RunRecord>? Runs, long BatchChanges, long Cursor) ChangesSince(long cursor) => Locked(() =>
    {
        if (cursor < _changeBase || cursor > ChangeCursor)
        {
            return (null, _batchChanges, ChangeCursor);
        }
        HashSet<string> seen = new(StringComparer.Ordinal);
        List<RunRecord> changed = [];
        for (int i = (int)(cursor - _changeBase); i < _changeLog.Count; i++)
        {
            if (seen.Add(_changeLog[i]))
            {
                changed.Add(_index.Get(_changeLog[i])!);
            }
        }
        return ((IReadOnlyList<RunRecord>?)changed, _batchChanges, ChangeCursor);
    });

    private long ChangeCursor => _changeBase + _changeLog.Count;

    private void Changed(string runId)
    {
        if (_changeLog.Count >= ChangeLogLimit)
        {
            _changeLog.RemoveRange(0, ChangeLogLimit / 2);
            _changeBase += ChangeLogLimit / 2;
        }
        _changeLog.Add(runId);
    }

    /// <summary>The non-terminal runs (pending and running), oldest first.</summary>
    public IReadOnlyList<RunRecord> Active() => Locked(() => (IReadOnlyList<RunRecord>)[.. _index.ActiveAll()]);

    /// <summary>The newest terminal run on <paramref name="machine"/>, if any: its last verdict.</summary>
    public RunRecord? LastFinishedOn(string machine) => Locked(() => _index.LastFinished(machine));

    /// <summary>The non-terminal run occupying <paramref name="machine"/>, if any.</summary>
    public RunRecord? ActiveOn(string machine) => Locked(() => _index.Active(machine).FirstOrDefault());

    /// <summary>
    /// DESIGN §4.2 in one critical section: reuse a non-terminal twin (same machine and hash, running or queued), refuse
    /// with the occupying run if the machine is busy with another hash (or, if the request asks to queue, join the
    /// machine's queue), or create a pending run. A run being cancelled is never reused: its verdict will be interrupted,
    /// which is not what a new dispatch asked for.
    /// </summary>
    public PrepareOutcome Prepare(PrepareRequest request) => Locked(() =>
    {
        List<RunRecord> active = [.. _index.Active(request.Machine)];
        if (active.FirstOrDefault(r => r.Run.TestDirHash == request.TestDirHash && r.CancelRequestedAt is null) is { } twin)
        {
            return new PrepareOutcome(PrepareKind.Reused, twin.Run);
        }
        if (active.Count > 0 && !request.Queue)
        {
            RunRecord occupying = active.FirstOrDefault(r => r.Run.Status == RunStatus.Running) ?? active[0];
            return new PrepareOutcome(PrepareKind.Busy, occupying.Run, BeingCancelled: occupying.CancelRequestedAt is not null);
        }

        return new PrepareOutcome(PrepareKind.Created, Create(request).Run);
    });

    /// <summary>
    /// A machine loop's next work, in one critical section: the machine's active run (running after an agent restart:
    /// to follow again; or pending); else, if the machine is free, the first waiting item, in plan order, of the oldest
    /// open batch that targets it, made a run on it already running (the agent takes it as it makes it, so it never
    /// waits as pending: one fsync'd append less per item), with <paramref name="target"/> as where it runs. Null when
    /// nothing waits for the machine. With <paramref name="tags"/> null the machine takes no batch items, only the runs
    /// dispatched to it. <paramref name="placement"/> says which queued runs may start and which items the machine takes
    /// (by default, all): a queued run that may not start holds the machine, which then takes no batch item either.
    /// </summary>
    public RunRecord? TakeNext(string machine, IReadOnlyCollection<string>? tags, Machine? target = null, Placement? placement = null) => Locked(() =>
    {
        placement ??= Placement.Open;
        List<RunRecord> active = [.. _index.Active(machine)];
        if ((active.FirstOrDefault(r => r.Run.Status == RunStatus.Running) ?? active.FirstOrDefault(placement.MayStart)) is { } next)
        {
            return next;
        }
        if (tags is null || active.Count > 0)
        {
            return null;
        }
        foreach (BatchLedger batch in OpenBatches())
        {
            if (batch.WaitingWithLast.FirstOrDefault(w => w.Entry.Targets(machine, tags) && placement.Takes(machine, w.Entry, w.Last)).Entry is { } entry)
            {
                return Create(new PrepareRequest(machine, entry.TestDir, entry.TestDirHash, entry.Spec, batch.Record.Id, entry.Name, target),
                    startNow: true);
            }
        }
        return null;
    });

    /// <summary>The open batches, oldest first, each with its waiting entries; a batch found over is closed on the way, for good.</summary>
    private List<BatchLedger> OpenBatches()
    {
        List<BatchLedger> open = [];
        foreach (string batchId in _index.OpenBatches.ToList())
        {
            BatchLedger batch = _index.Ledger(batchId)!;
            if (batch.IsOver)
            {
                _index.Close(batchId);
            }
            else
            {
                open.Add(batch);
            }
        }
        return open;
    }

    /// <summary>Of <paramref name="machines"/>, those free (no active run) that a waiting batch item may run on: where the agent starts loops.</summary>
    public IReadOnlyList<Machine> FreeWithWaitingItems(IReadOnlyList<Machine> machines, Placement? placement = null) => Locked(() =>
    {
        placement ??= Placement.Open;
        List<BatchLedger> open = OpenBatches();
        return (IReadOnlyList<Machine>)[.. machines.Where(m => !_index.Active(m.Name).Any() &&
            open.Any(b => b.WaitingWithLast.Any(w => w.Entry.Targets(m.Name, m.Tags) && placement.Takes(m.Name, w.Entry, w.Last))))];
    });

    /// <summary>
    /// Whether the agent has anything to do: a run to start or to follow (a running run outlives the agent that followed it),
    /// or a batch item waiting that <paramref name="runnable"/> says a machine can take. With <paramref name="startable"/>,
    /// a pending run counts only if it says the run may start (a queue held on a drained machine is no work).
    /// </summary>
    public bool HasWork(Func<BatchEntry, bool> runnable, Func<RunRecord, bool>? startable = null) => Locked(() =>
        _index.ActiveAll().Any(r => r.Run.Status == RunStatus.Running || startable is null || startable(r)) ||
        OpenBatches().Any(b => b.Waiting.Any(runnable)));

    /// <summary>Records a new batch of <paramref name="entries"/> (its items wait for the agent) and returns it.</summary>
    public BatchRecord AddBatch(string name, string plan, IReadOnlyList<BatchEntry> entries, string? rerunOf = null) => Locked(() =>
    {
        string id;
        do
        {
            id = RunIds.New();
        }
        while (_index.GetBatch(id) is not null);
        return Write(new BatchRecord
        {
            Id = id,
            Name = name,
            Plan = plan,
            Seq = _index.MaxBatchSeq + 1,
            CreatedAt = _clock.GetUtcNow(),
            RerunOf = rerunOf,
            Entries = entries,
        });
    });

    /// <summary>Marks a batch cancelled (its waiting items are dropped); returns its runs still active, for the caller to cancel.</summary>
    public (BatchRecord Batch, IReadOnlyList<RunRecord> Active) CancelBatch(string id) => Locked(() =>
    {
        BatchRecord batch = _index.GetBatch(id) ?? throw BatchNotFound(id);
        if (batch.CancelledAt is null)
        {
            batch = Write(batch with { CancelledAt = _clock.GetUtcNow() });
        }
        return (batch, (IReadOnlyList<RunRecord>)[.. _index.RunsOfBatch(id).Where(r => !r.Run.Status.IsTerminal())]);
    });

    /// <summary>Batches, newest first, with their progress (and items, when <paramref name="withItems"/>).</summary>
    public IReadOnlyList<Batch> Batches(bool withItems = false) => Locked(() =>
        (IReadOnlyList<Batch>)[.. _index.BatchesNewestFirst().Select(b => BatchProgress.Describe(b, _index.RunsOfBatch(b.Id), withItems))]);

    /// <summary>A batch's record and progress, by its id or any unique prefix of it.</summary>
    public (BatchRecord Record, Batch Batch) FindBatch(string idOrPrefix, bool withItems = false)
    {
        string wanted = idOrPrefix.Trim().ToLowerInvariant();
        if (wanted.Length == 0)
        {
            throw new DispatchException(ErrorCodes.BadInput, "a batch id is empty; give an id or a unique prefix of one");
        }
        return Locked(() =>
        {
            List<string> matches = _index.GetBatch(wanted) is not null
                ? [wanted]
                : [.. _index.BatchIds.Where(id => id.StartsWith(wanted, StringComparison.Ordinal)).Take(5)];
            if (matches.Count != 1)
            {
                throw matches.Count == 0
                    ? BatchNotFound(idOrPrefix)
                    : new DispatchException(ErrorCodes.AmbiguousId,
                        $"batch id prefix '{idOrPrefix}' matches several batches ({string.Join(", ", matches)}…); type more of the id");
            }
            BatchRecord record = _index.GetBatch(matches[0])!;
            return (record, BatchProgress.Describe(record, _index.RunsOfBatch(record.Id), withItems));
        });
    }

    private static DispatchException BatchNotFound(string id) =>
        new(ErrorCodes.BatchNotFound, $"no batch id starts with '{id}'; 'testdispatch batch list' lists them");

    private RunRecord Create(PrepareRequest request, bool startNow = false)
    {
        string id = NewUniqueId();
        DateTimeOffset now = _clock.GetUtcNow();
        return Write(new RunRecord
        {
            Run = new Run
            {
                Id = id,
                Machine = request.Machine,
                TestDir = request.TestDir,
                TestDirHash = request.TestDirHash,
                Status = startNow ? RunStatus.Running : RunStatus.Pending,
                StartedAt = startNow ? now : null,
                ArtifactsPath = Paths.Artifacts(id),
                LogsPath = Paths.Log(id),
                BatchId = string.IsNullOrEmpty(request.BatchId) ? null : request.BatchId,
                PlanEntry = string.IsNullOrEmpty(request.PlanEntry) ? null : request.PlanEntry,
            },
            Spec = request.Spec,
            Target = request.Target,
            Seq = _index.MaxSeq + 1,
            CreatedAt = now,
        });
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the current record under the lock and persists it. The change
    /// sees the latest state, so it can decide (return the record unchanged to do nothing). Refuses
    /// illegal transitions: a terminal run never changes; a run never goes back to pending. A change that is not
    /// <paramref name="durable"/> is written but not fsync'd: for facts that matter only while this host stays up (the
    /// next fsync'd append, or the page cache every process shares, carries them; a power cut loses them harmlessly).
    /// </summary>
    public RunRecord Update(string id, Func<RunRecord, RunRecord> change, bool durable = true) => Locked(() =>
    {
        RunRecord before = _index.Get(id) ?? throw new DispatchException(ErrorCodes.RunNotFound, $"no run with id '{id}'");
        RunRecord after = change(before);
        if (after == before)
        {
            return before;
        }
        RunTransitions.Check(before, after);
        return Write(after, durable);
    });

    /// <summary>Folds the journal into a new snapshot now (it also happens by itself as the journal grows).</summary>
    public void Compact() => Locked(() =>
    {
        CompactLocked();
        return 0;
    });

    private T Locked<T>(Func<T> action)
    {
        lock (_gate)
        {
            try
            {
                return LockedOnce(action);
            }
            catch (DispatchException e) when (StorageFailure.IsStorageCode(e.ErrorCode))
            {
                Forget();
                throw;
            }
            catch (Exception e) when (StorageFailure.IsIo(e))
            {
                Forget();
                throw StorageFailure.Write(Paths.Root, "use the state dir", e, StorageFailure.NothingRecorded);
            }
        }
    }

    /// <summary>
    /// After a failure: this instance no longer trusts what it holds (a write may have half happened), so its next
    /// operation loads the snapshot and journal from disk again, as a new process would.
    /// </summary>
    private void Forget()
    {
        _generation = -1;
        _journal = null;
        _journalOffset = 0;
        _journalLines = 0;
    }

    private T LockedOnce<T>(Func<T> action)
    {
        Snapshot? parsed = null;
        while (true)
        {
            using (AcquireStateLock())
            {
                long generation = _snapshot.ReadGeneration();
                if (generation == _generation || parsed is not null)
                {
                    CatchUp(generation, parsed);
                    return action();
                }
            }
            // A new snapshot (first load, or another process compacted): parse it without the state lock, which
            // takes long enough at 100k runs to stall every other process. A renamed-in snapshot never changes;
            // CatchUp uses it if it is still the current one, else reads the newer one under the lock.
            parsed = _snapshot.Read();
        }
    }

    private IDisposable AcquireStateLock()
    {
        try
        {
            return _locks.Acquire(Paths.StateLock, _options.LockTimeout);
        }
        catch (TimeoutException e)
        {
            throw new DispatchException(ErrorCodes.StateLocked,
                $"{e.Message}. Another testdispatch process is stuck holding it; find it with 'fuser {Paths.StateLock}'.", inner: e);
        }
        catch (Exception e) when (StorageFailure.IsIo(e))
        {
            throw StorageFailure.Lock(Paths.StateLock, e);
        }
    }

    private void CatchUp(long generation, Snapshot? parsed)
    {
        if (generation != _generation)
        {
            Snapshot snapshot = parsed?.Generation == generation ? parsed : _snapshot.Read();
            _index.Load(snapshot.Runs, snapshot.Batches ?? []);
            // Everything may have changed: no cursor from before answers any more.
            _changeBase = ChangeCursor + 1;
            _changeLog.Clear();
            _batchChanges++;
            SwitchTo(snapshot.Generation);
            Version++;
        }

        (List<JournalEntry> entries, long offset, int lines) = _journal!.ReadFrom(_journalOffset, _journalLines);
        foreach (JournalEntry entry in entries)
        {
            if (entry.Run is not null)
            {
                _index.Apply(entry.Run);
                Changed(entry.Run.Id);
            }
            else
            {
                _index.Apply(entry.Batch!);
                _batchChanges++;
            }
        }
        _journalOffset = offset;
        _journalLines = lines;
        if (entries.Count > 0)
        {
            Version++;
        }
    }

    private RunRecord Write(RunRecord record, bool durable = true)
    {
        // A finished run's process is gone and its pid may be reused, and where it ran is in the run itself: nothing
        // reads them, and not keeping them takes a good part off every snapshot and journal line.
        if (record.Run.Status.IsTerminal() && (record.Process is not null || record.Target is not null))
        {
            record = record with { Process = null, Target = null };
        }
        Append(new JournalEntry(record), durable);
        _index.Apply(record);
        Changed(record.Id);
        Version++;
        CompactIfLong();
        return record;
    }

    private BatchRecord Write(BatchRecord batch)
    {
        Append(new JournalEntry(null, batch));
        _index.Apply(batch);
        _batchChanges++;
        Version++;
        CompactIfLong();
        return batch;
    }

    private void Append(JournalEntry entry, bool durable = true)
    {
        _journalOffset = _journal!.Append(entry, _journalOffset, durable);
        _journalLines++;
    }

    /// <summary>
    /// Compacts once the journal is long. The write that got it there is already durable and acknowledged, so a failed
    /// compaction (a full disk) fails nothing: the journal just grows, and is tried again some lines later.
    /// </summary>
    private void CompactIfLong()
    {
        if (_journalLines < _compactAt)
        {
            return;
        }
        long generation = _generation;
        try
        {
            CompactLocked();
        }
        catch (DispatchException e) when (e.ErrorCode is ErrorCodes.DiskFull or ErrorCodes.StateUnwritable)
        {
            // Only the directory's fsync failed if the new snapshot is in place: that compaction is done.
            if (_generation == generation)
            {
                _compactAt = _journalLines + Math.Max(1, _options.CompactAfterLines / 10);
            }
        }
    }

    private void CompactLocked()
    {
        long next = _generation + 1;
        _snapshot.Stage(new Snapshot(next, _index.InCreationOrder(), _index.BatchesInCreationOrder()));
        _snapshot.Publish();
        // Every process now reads the new snapshot and its (empty) journal, so this one must too, whatever follows.
        SwitchTo(next);
        // If the rename may not survive a power cut, the old journals stay: the old snapshot would need them. The next
        // journal's creation fsyncs the directory again before anything in it is acknowledged.
        _durability.SyncDirectory(Paths.Root, "The journal was folded into a new snapshot, which may not survive a power cut; nothing was lost.");
        // The new snapshot holds everything; older journals are now dead weight (also any left by a crash mid-compaction).
        foreach (string old in _fs.Directory.EnumerateFiles(Paths.Root, "journal.*.jsonl"))
        {
            if (old != _journal!.Path)
            {
                TryDelete(old);
            }
        }
    }

    private void SwitchTo(long generation)
    {
        _generation = generation;
        _journal = new JournalFile(_fs, Paths.Journal(generation), _durability);
        _journalOffset = 0;
        _journalLines = 0;
        _compactAt = _options.CompactAfterLines;
    }

    /// <summary>A dead journal left behind is harmless (no reader looks at another generation's): the next compaction tries again.</summary>
    private void TryDelete(string path)
    {
        try
        {
            _fs.File.Delete(path);
        }
        catch (Exception e) when (StorageFailure.IsIo(e))
        {
        }
    }

    private string NewUniqueId()
    {
        string id;
        do
        {
            id = RunIds.New();
        }
        while (_index.Get(id) is not null);
        return id;
    }
}
