using System.Runtime.InteropServices;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The in-memory view of the store: runs by id, creation order, and the non-terminal runs of each
/// machine, so prepare and updates cost the same whatever the history size.
/// </summary>
internal sealed class RunIndex
{
    private readonly Dictionary<string, RunRecord> _byId = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Dictionary<string, HashSet<string>> _activeByMachine = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RunRecord> _lastFinishedByMachine = new(StringComparer.Ordinal);

    public int Count => _byId.Count;

    public long MaxSeq { get; private set; }

    /// <summary>Replaces everything with <paramref name="records"/> (a snapshot, in creation order).</summary>
    public void Load(IReadOnlyList<RunRecord> records)
    {
        _byId.Clear();
        _order.Clear();
        _activeByMachine.Clear();
        _lastFinishedByMachine.Clear();
        MaxSeq = 0;
        _byId.EnsureCapacity(records.Count);
        _order.EnsureCapacity(records.Count);
        foreach (RunRecord record in records)
        {
            Apply(record);
        }
    }

    public void Apply(RunRecord record)
    {
        ref RunRecord? slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_byId, record.Id, out bool known);
        if (!known)
        {
            _order.Add(record.Id);
        }
        slot = record;
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

    /// <summary>The newest (by creation) terminal run on a machine.</summary>
    public RunRecord? LastFinished(string machine) => _lastFinishedByMachine.GetValueOrDefault(machine);

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

    public List<RunRecord> InCreationOrder() => [.. _order.Select(id => _byId[id])];
}
