using System.Runtime.InteropServices;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The in-memory view of the store: runs by id, creation order, and the non-terminal runs of each
/// machine, so prepare and updates cost the same whatever the history size. Batches by id, each with its runs, and
/// the open ones (that may still have work) in submission order, so the agent's next-item search skips history.
/// It holds the hot state only (see <see cref="History"/>): what is in history is not here.
/// </summary>
internal sealed class RunIndex
{
    private readonly Dictionary<string, BatchLedger> _batches = new(StringComparer.Ordinal);
    private readonly List<string> _batchOrder = [];
    private readonly List<string> _openBatches = [];
    private readonly Dictionary<string, RunRecord> _byId = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Dictionary<string, HashSet<string>> _activeByMachine = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RunRecord> _lastFinishedByMachine = new(StringComparer.Ordinal);

    public int Count => _byId.Count;

    public long MaxSeq { get; private set; }

    /// <summary>
    /// Replaces everything with <paramref name="records"/> (a snapshot, in creation order) and <paramref name="batches"/>,
    /// whose tries by runs the snapshot no longer holds are <paramref name="tried"/>.
    /// </summary>
    public void Load(IReadOnlyList<RunRecord> records, IReadOnlyList<BatchRecord> batches, IReadOnlyList<BatchTries>? tried = null,
        long seqFloor = 0, long batchSeqFloor = 0)
    {
        MaxBatchSeq = 0;
        _batches.Clear();
        _batchOrder.Clear();
        _openBatches.Clear();
        Dictionary<string, IReadOnlyList<EntryTries>> triedByBatch = new(StringComparer.Ordinal);
        foreach (BatchTries batch in tried ?? [])
        {
            triedByBatch[batch.Batch] = batch.Entries;
        }
        foreach (BatchRecord batch in batches)
        {
            Add(batch, triedByBatch.GetValueOrDefault(batch.Id));
        }
        _byId.Clear();
        _order.Clear();
        _activeByMachine.Clear();
        _lastFinishedByMachine.Clear();
        MaxSeq = seqFloor;
        MaxBatchSeq = Math.Max(MaxBatchSeq, batchSeqFloor);
        _byId.EnsureCapacity(records.Count);
        _order.EnsureCapacity(records.Count);
        foreach (RunRecord record in records)
        {
            Apply(record);
        }
        // History is not open: only batches with waiting entries or runs still going are looked at for work.
        _openBatches.RemoveAll(id => _batches[id].IsOver);
    }

    public void Apply(RunRecord record)
    {
        ref RunRecord? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_byId, record.Id, out bool known);
        if (!known)
        {
            _order.Add(record.Id);
        }
        slot = record;
        if (record.Run.BatchId is { } batchId && _batches.TryGetValue(batchId, out BatchLedger? batch))
        {
            batch.Apply(record, isNew: !known);
        }
        MaxSeq = Math.Max(MaxSeq, record.Seq);

        string machine = record.Run.Machine;
        if (!record.Run.Status.IsTerminal())
        {
            if (!_activeByMachine.TryGetValue(machine, out HashSet<string>? active))
            {
                _activeByMachine[machine] = active = new HashSet<string>(StringComparer.Ordinal);
            }
            active.Add(record.Id);
        }
        else
        {
            if (_activeByMachine.TryGetValue(machine, out HashSet<string>? active))
            {
                active.Remove(record.Id);
            }
            if (!_lastFinishedByMachine.TryGetValue(machine, out RunRecord? last) || last.Seq <= record.Seq)
            {
                _lastFinishedByMachine[machine] = record;
            }
        }
    }

    public void Apply(BatchRecord batch)
    {
        if (_batches.TryGetValue(batch.Id, out BatchLedger? known))
        {
            known.Update(batch);
            MaxBatchSeq = Math.Max(MaxBatchSeq, batch.Seq);
        }
        else
        {
            Add(batch, null);
        }
    }

    private void Add(BatchRecord batch, IReadOnlyList<EntryTries>? tried)
    {
        _batches[batch.Id] = new BatchLedger(batch, tried);
        _batchOrder.Add(batch.Id);
        _openBatches.Add(batch.Id);
        MaxBatchSeq = Math.Max(MaxBatchSeq, batch.Seq);
    }

    /// <summary>
    /// What a snapshot of <paramref name="hotRuns"/> must keep of the hot batches' other runs (gone to history, or
    /// going): per batch, the tries those runs made of each entry, with its latest try.
    /// </summary>
    public List<BatchTries> TriesBeyond(IEnumerable<RunRecord> hotRuns)
    {
        Dictionary<string, Dictionary<int, int>> hotTries = new(StringComparer.Ordinal);
        foreach (RunRecord run in hotRuns)
        {
            if (run.Run.BatchId is { } batchId && _batches.TryGetValue(batchId, out BatchLedger? ledger) && ledger.EntryOf(run) is >= 0 and int i)
            {
                if (!hotTries.TryGetValue(batchId, out Dictionary<int, int>? tries))
                {
                    hotTries[batchId] = tries = [];
                }
                tries[i] = tries.GetValueOrDefault(i) + 1;
            }
        }
        List<BatchTries> beyond = [];
        foreach (string batchId in _batchOrder)
        {
            if (_batches[batchId].TriesBeyond(hotTries.GetValueOrDefault(batchId)) is { } tried)
            {
                beyond.Add(tried);
            }
        }
        return beyond;
    }

    public long MaxBatchSeq { get; private set; }

    public BatchRecord? GetBatch(string id) => _batches.GetValueOrDefault(id)?.Record;

    /// <summary>A batch with its runs and waiting entries, or null.</summary>
    public BatchLedger? Ledger(string id) => _batches.GetValueOrDefault(id);

    public IEnumerable<string> BatchIds => _batches.Keys;

    /// <summary>A hot batch's runs still going, oldest first.</summary>
    public List<RunRecord> ActiveRunsOfBatch(string batchId) =>
        [.. (_batches.GetValueOrDefault(batchId)?.ActiveRuns ?? []).Select(id => _byId[id]).OrderBy(r => r.Seq)];

    public IEnumerable<BatchRecord> BatchesNewestFirst()
    {
        for (int i = _batchOrder.Count - 1; i >= 0; i--)
        {
            yield return _batches[_batchOrder[i]].Record;
        }
    }

    public List<BatchRecord> BatchesInCreationOrder() => [.. _batchOrder.Select(id => _batches[id].Record)];

    /// <summary>Batches that may still have work, oldest first.</summary>
    public IReadOnlyList<string> OpenBatches => _openBatches;

    /// <summary>Forgets a batch found finished: it never gets work again (a retry needs a run still in it).</summary>
    public void Close(string batchId) => _openBatches.Remove(batchId);

    /// <summary>The newest (by creation) terminal run on a machine.</summary>
    public RunRecord? LastFinished(string machine) => _lastFinishedByMachine.GetValueOrDefault(machine);

    public IEnumerable<RunRecord> LastFinishedAll() => _lastFinishedByMachine.Values;

    public RunRecord? Get(string id) => _byId.GetValueOrDefault(id);

    public IEnumerable<RunRecord> Active(string machine) =>
        _activeByMachine.TryGetValue(machine, out HashSet<string>? ids)
            ? ids.Select(id => _byId[id]).OrderBy(r => r.Seq)
            : [];

    public IEnumerable<RunRecord> ActiveAll() =>
        _activeByMachine.Values.SelectMany(ids => ids).Select(id => _byId[id]).OrderBy(r => r.Seq);

    /// <summary>Runs newest first. Snapshots and journals keep creation order, so this is a reverse walk.</summary>
    public IEnumerable<RunRecord> NewestFirst()
    {
        for (int i = _order.Count - 1; i >= 0; i--)
        {
            yield return _byId[_order[i]];
        }
    }

    public IEnumerable<string> Ids => _byId.Keys;

    public List<RunRecord> InCreationOrder() => [.. InCreationOrderLazy()];

    public IEnumerable<RunRecord> InCreationOrderLazy() => _order.Select(id => _byId[id]);
}
