using System.IO.Abstractions;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The persisted runs of one state dir (docs/DESIGN.md §4–§5): its commands here, its queries in RunStore.Queries.cs, how it
/// keeps state on disk (journal, hot snapshot, history segments) in RunStore.Persistence.cs, prune in RunStore.Prune.cs. Every operation takes the cross-process state
/// lock, catches up with what other processes appended (only the new journal bytes), then acts. A
/// write is one fsync'd journal append, acknowledged only after it is durable; compaction folds the
/// journal into snapshot.json so neither grows without bound. Keeps invariants 1 (one active run per
/// machine), 2 (atomic prepare) and 3 (durable before acknowledged); never overwrites damaged state.
/// A write or fsync that fails is an error (disk_full, state_unwritable), never acknowledged: its line is taken back,
/// it never enters this instance's state, and the instance reads the disk afresh before its next operation.
/// </summary>
public sealed partial class RunStore
{
    private readonly IFileSystem _fs;
    private readonly IFileLocks _locks;
    private readonly TimeProvider _clock;
    private readonly StoreOptions _options;
    private readonly SnapshotFile _snapshot;
    private readonly Durability _durability;
    private readonly RunIndex _index = new();
    private readonly History _history;
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
    private long _compactAtBytes;
    private long _snapshotBytes;

    /// <param name="fsync">How written bytes are made durable; by default libc's fsync on the real disk (see <see cref="IFsync"/>).</param>
    public RunStore(IFileSystem fs, IFileLocks locks, string stateDir, TimeProvider? clock = null, StoreOptions? options = null, IFsync? fsync = null)
    {
        _fs = fs;
        _locks = locks;
        _clock = clock ?? TimeProvider.System;
        _options = options ?? new StoreOptions();
        _compactAt = _options.CompactAfterLines;
        _compactAtBytes = _options.CompactAfterBytes;
        _durability = new Durability(fsync ?? LibcFsync.For(fs));
        Paths = new StatePaths(fs.Path.GetFullPath(stateDir));
        _snapshot = new SnapshotFile(fs, Paths, _durability);
        _history = new History(fs, Paths, _durability);
        TightenedFrom = StateDirectory.Ensure(fs, Paths.Root);
    }

    public StatePaths Paths { get; }

    /// <summary>The mode the state dir had if opening it had to make it 0700 (other users could read it), else null.</summary>
    public UnixFileMode? TightenedFrom { get; }

    /// <summary>Grows whenever this store instance sees a change (its own or another process's).</summary>
    public long Version { get; private set; }

    /// <summary>Catches up with the disk; returns <see cref="Version"/> so a caller can tell whether anything changed.</summary>
    public long Refresh() => Locked(() => Version);

    /// <summary>The non-terminal runs (pending and running), oldest first.</summary>
    public IReadOnlyList<RunRecord> Active() => Locked(() => (IReadOnlyList<RunRecord>)[.. _index.ActiveAll()]);

    /// <summary>
    /// The hot state's runs on <paramref name="machine"/> that started and ended, newest first, at most <paramref name="most"/>:
    /// what the agent's sweep looks at for what an agent that died left behind.
    /// </summary>
    public IReadOnlyList<RunRecord> Ended(string machine, int most) => Locked(() => (IReadOnlyList<RunRecord>)[..
        _index.NewestFirst().Where(r => r.Run.Machine == machine && r.Run.Status.IsTerminal() && r.Run.StartedAt is not null && r.Process is not { IsLegacy: true })
            .Take(most)]);

    /// <summary>The newest terminal run on <paramref name="machine"/>, if any: its last verdict.</summary>
    public RunRecord? LastFinishedOn(string machine) => Locked(() => _index.LastFinished(machine));

    /// <summary>
    /// A prepare in one critical section (docs/DESIGN.md, invariant 2): <paramref name="existing"/> sees the machine's
    /// non-terminal runs, oldest first, and returns the outcome when one of them decides it (a twin to reuse, a machine
    /// busy); when it returns null, a pending run is created from <paramref name="request"/>.
    /// </summary>
    public PrepareOutcome Prepare(PrepareRequest request, Func<IReadOnlyList<RunRecord>, PrepareOutcome?> existing) => Locked(() =>
        existing([.. _index.Active(request.Machine)]) ?? new PrepareOutcome(PrepareKind.Created, Create(request).Run));

    /// <summary>
    /// A machine's next work in one critical section: <paramref name="choose"/> looks at the hot state and picks a run already
    /// made, or a batch entry to start, which is made a run already running (the agent takes it as it makes it, so it never
    /// waits as pending: one fsync'd append less per item). Null when it picks nothing.
    /// </summary>
    public RunRecord? Take(Func<IWorkView, NextWork?> choose) => Locked(() => choose(new WorkView(this)) switch
    {
        { Existing: { } run } => run,
        { Start: { } request } => Create(request, startNow: true),
        _ => null,
    });

    /// <summary>A question about the hot state, answered in one reading of it under the lock (<paramref name="query"/> must not keep the view).</summary>
    public T Read<T>(Func<IWorkView, T> query) => Locked(() => query(new WorkView(this)));

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

    /// <summary>Records a new batch of <paramref name="entries"/> (its items wait for the agent) and returns it.</summary>
    public BatchRecord AddBatch(string name, string plan, IReadOnlyList<BatchEntry> entries, string? rerunOf = null, bool inPlanOrder = false) => Locked(() =>
    {
        string id;
        do
        {
            id = RunIds.New();
        }
        while (_index.GetBatch(id) is not null || _history.Holds(_history.ReadIndex(), id));
        return Write(new BatchRecord
        {
            Id = id,
            Name = name,
            Plan = plan,
            Seq = _index.MaxBatchSeq + 1,
            CreatedAt = _clock.GetUtcNow(),
            RerunOf = rerunOf,
            InPlanOrder = inPlanOrder,
            Entries = entries,
        });
    });

    /// <summary>Marks a batch cancelled (its waiting items are dropped); returns its runs still active, for the caller to cancel.</summary>
    public (BatchRecord Batch, IReadOnlyList<RunRecord> Active) CancelBatch(string id) => Locked(() =>
    {
        if (_index.GetBatch(id) is not { } batch)
        {
            // A batch in history is over: nothing of it waits or runs, and it never changes again.
            return (HistoryBatch(id) ?? throw BatchNotFound(id), (IReadOnlyList<RunRecord>)[]);
        }
        if (batch.CancelledAt is null)
        {
            batch = Write(batch with { CancelledAt = _clock.GetUtcNow() });
        }
        return (batch, (IReadOnlyList<RunRecord>)_index.ActiveRunsOfBatch(id));
    });

    /// <summary>Batches, newest first, with their progress (and items, when <paramref name="withItems"/>); at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<Batch> Batches(bool withItems = false, int? limit = null)
    {
        (List<(long Seq, Batch Batch)> hot, HashSet<string> hotIds, HistoryHold history) = Locked(() =>
            (new List<(long Seq, Batch Batch)>(_index.BatchesNewestFirst().Take(limit ?? int.MaxValue)
                .Select(b => (b.Seq, DescribeLocked(b, null, withItems)))),
             new HashSet<string>(_index.BatchIds, StringComparer.Ordinal), HoldHistory()));
        using (history)
        {
            List<Batch> all = new(hot.Count);
            int next = 0;
            foreach ((BatchRecord old, List<RunRecord> runs) in _history.BatchesNewestFirst(history))
            {
                if (all.Count >= (limit ?? int.MaxValue))
                {
                    break;
                }
                if (hotIds.Contains(old.Id))
                {
                    continue;
                }
                while (next < hot.Count && hot[next].Seq > old.Seq && all.Count < (limit ?? int.MaxValue))
                {
                    all.Add(hot[next++].Batch);
                }
                // Runs of it still hot (a machine's last verdict, the newest few) are newer than its history copies.
                all.Add(Locked(() => DescribeLocked(old, runs, withItems)));
            }
            while (next < hot.Count && all.Count < (limit ?? int.MaxValue))
            {
                all.Add(hot[next++].Batch);
            }
            return all;
        }
    }

    /// <summary>A batch's progress: from its ledger while it is hot, else from its runs (<see cref="RunsOfBatchLocked"/>).</summary>
    private Batch DescribeLocked(BatchRecord batch, List<RunRecord>? fromHistory, bool withItems) =>
        _index.Ledger(batch.Id) is { } ledger && ReferenceEquals(ledger.Record, batch)
            ? BatchProgress.Describe(batch, ledger.Entries, withItems)
            : BatchProgress.Describe(batch, RunsOfBatchLocked(batch.Id, fromHistory), withItems);

    /// <summary>A batch's runs in creation order: those history holds (or <paramref name="fromHistory"/>) with its hot runs.</summary>
    private List<RunRecord> RunsOfBatchLocked(string batchId, List<RunRecord>? fromHistory)
    {
        fromHistory ??= _history.RunsOfBatch(_history.ReadIndex(), batchId);
        Dictionary<string, RunRecord> runs = new(StringComparer.Ordinal);
        foreach (RunRecord run in fromHistory)
        {
            runs[run.Id] = run;
        }
        foreach (RunRecord run in _index.InCreationOrderLazy().Where(r => r.Run.BatchId == batchId))
        {
            runs[run.Id] = run;
        }
        return [.. runs.Values.OrderBy(r => r.Seq)];
    }

    private BatchRecord? HistoryBatch(string id) =>
        _history.FindBatches(_history.ReadIndex(), id, 1) is [{ } found] && found.Id == id ? found : null;

    /// <summary>A batch's record and progress, by its id or any unique prefix of it, in the hot state or in history.</summary>
    public (BatchRecord Record, Batch Batch) FindBatch(string idOrPrefix, bool withItems = false)
    {
        string wanted = idOrPrefix.Trim().ToLowerInvariant();
        if (wanted.Length == 0)
        {
            throw new DispatchException(ErrorCodes.BadInput, "a batch id is empty; give an id or a unique prefix of one");
        }
        return Locked(() =>
        {
            List<BatchRecord> matches = _index.GetBatch(wanted) is { } exact
                ? [exact]
                : [.. _index.BatchIds.Where(id => id.StartsWith(wanted, StringComparison.Ordinal)).Take(5).Select(id => _index.GetBatch(id)!)];
            if (matches.Count != 1 || matches[0].Id != wanted)
            {
                foreach (BatchRecord old in _history.FindBatches(_history.ReadIndex(), wanted, 5))
                {
                    if (matches.Count < 5 && _index.GetBatch(old.Id) is null)
                    {
                        matches.Add(old);
                    }
                }
            }
            if (matches.FirstOrDefault(m => m.Id == wanted) is { } whole)
            {
                matches = [whole];
            }
            if (matches.Count != 1)
            {
                throw matches.Count == 0
                    ? BatchNotFound(idOrPrefix)
                    : new DispatchException(ErrorCodes.AmbiguousId,
                        $"batch id prefix '{idOrPrefix}' matches several batches ({string.Join(", ", matches.Select(m => m.Id))}…); type more of the id");
            }
            BatchRecord record = matches[0];
            return (record, DescribeLocked(record, null, withItems));
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
        // A run in history is terminal, so a change to it is refused or is none; a hot copy written anyway would win.
        RunRecord before = _index.Get(id) ?? HistoryRun(id) ?? throw new DispatchException(ErrorCodes.RunNotFound, $"no run with id '{id}'");
        RunRecord after = change(before);
        if (after == before)
        {
            return before;
        }
        RunTransitions.Check(before, after);
        return Write(after, durable);
    });

    private string NewUniqueId()
    {
        string id;
        do
        {
            id = RunIds.New();
        }
        while (_index.Get(id) is not null || _history.Holds(_history.ReadIndex(), id));
        return id;
    }
}
