using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The store's queries. What every command needs (a run by id, the active runs, each machine's last verdict, open
/// batches) is answered from the hot state alone; a run or batch not there is looked up in history through its id index
/// (a binary search and one line read); listings merge the hot runs with history read newest first, lazily, so a page
/// reads what it shows and a filtered walk over all history holds one chunk per segment.
/// </summary>
public sealed partial class RunStore
{
    public RunRecord Get(string id) =>
        Locked(() => _index.Get(id) ?? HistoryRun(id)) ?? throw new DispatchException(ErrorCodes.RunNotFound, $"no run with id '{id}'; 'testdispatch runs' lists them");

    private RunRecord? HistoryRun(string id) =>
        _history.FindRuns(_history.ReadIndex(), id, 1) is [{ } found] && found.Id == id ? found : null;

    /// <summary>Finds a run by its id or any unique prefix of it, in the hot state or in history.</summary>
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
            // The hot copy of a run wins over an older one in history.
            List<RunRecord> matches = [.. _index.Ids.Where(id => id.StartsWith(wanted, StringComparison.Ordinal)).Take(5).Select(id => _index.Get(id)!)];
            foreach (RunRecord old in _history.FindRuns(_history.ReadIndex(), wanted, 5))
            {
                if (matches.Count < 5 && _index.Get(old.Id) is null)
                {
                    matches.Add(old);
                }
            }
            if (matches.FirstOrDefault(m => m.Id == wanted) is { } whole)
            {
                return whole;
            }
            return matches.Count switch
            {
                1 => matches[0],
                0 => throw new DispatchException(ErrorCodes.RunNotFound, $"no run id starts with '{idOrPrefix}'; 'testdispatch runs' lists them"),
                _ => throw new DispatchException(ErrorCodes.AmbiguousId,
                    $"run id prefix '{idOrPrefix}' matches several runs ({string.Join(", ", matches.Select(m => m.Id))}…); type more of the id"),
            };
        });
    }

    /// <summary>Runs matching <paramref name="filter"/>, newest first (at most its limit).</summary>
    public IReadOnlyList<RunRecord> List(RunFilter? filter = null)
    {
        filter ??= RunFilter.All;
        IEnumerable<RunRecord> matching = Stream(filter);
        return [.. filter.Limit is { } limit ? matching.Take(limit) : matching];
    }

    /// <summary>
    /// Runs matching <paramref name="filter"/>, newest first, read as the caller goes: the hot ones are taken under the
    /// lock with a hold on history's segments (<see cref="HistoryHold"/>), history is read after it, so a long walk never
    /// holds other processes up and a prune meanwhile takes nothing from it. Each enumeration is a view of its own.
    /// </summary>
    public IEnumerable<RunRecord> Stream(RunFilter? filter = null)
    {
        filter ??= RunFilter.All;
        (List<RunRecord> hot, HashSet<string> hotIds, HistoryHold history, _, _) = Locked(() => View(filter));
        using (history)
        {
            foreach (RunRecord run in Merge(hot, hotIds, history, filter))
            {
                yield return run;
            }
        }
    }

    private (List<RunRecord> Hot, HashSet<string> HotIds, HistoryHold History, long BatchChanges, long Cursor) View(RunFilter filter)
    {
        List<RunRecord> hot = [.. _index.NewestFirst().Where(r => filter.Matches(r.Run))];
        if (filter.Limit is { } limit && hot.Count > limit)
        {
            hot.RemoveRange(limit, hot.Count - limit);
        }
        return (hot, [.. _index.Ids], HoldHistory(), _batchChanges, ChangeCursor);
    }

    private IEnumerable<RunRecord> Merge(List<RunRecord> hot, HashSet<string> hotIds, HistoryHold history, RunFilter filter)
    {
        int next = 0;
        foreach (RunRecord old in _history.NewestFirst(history))
        {
            if (hotIds.Contains(old.Id) || !filter.Matches(old.Run))
            {
                continue;
            }
            while (next < hot.Count && hot[next].Seq > old.Seq)
            {
                yield return hot[next++];
            }
            yield return old;
        }
        while (next < hot.Count)
        {
            yield return hot[next++];
        }
    }

    /// <summary>Runs matching <paramref name="filter"/>, newest first, and the change cursor they are as of (for <see cref="ChangesSince"/>).</summary>
    public (IReadOnlyList<RunRecord> Runs, long BatchChanges, long Cursor) ListWithCursor(RunFilter filter)
    {
        (List<RunRecord> hot, HashSet<string> hotIds, HistoryHold history, long batchChanges, long cursor) = Locked(() => View(filter));
        using (history)
        {
            IEnumerable<RunRecord> matching = Merge(hot, hotIds, history, filter);
            return ([.. filter.Limit is { } limit ? matching.Take(limit) : matching], batchChanges, cursor);
        }
    }

    /// <summary>
    /// The runs that changed after <paramref name="cursor"/> (each once, as it is now), whether any batch record changed,
    /// and the new cursor: what a screen that already shows everything up to the cursor needs to patch itself. Runs is
    /// null when the cursor is too old to answer (the store was reloaded from a newer snapshot, compacted runs into
    /// history, or many changes ago): list again.
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
            if (seen.Add(_changeLog[i]) && _index.Get(_changeLog[i]) is { } run)
            {
                changed.Add(run);
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

    /// <summary>No cursor from before answers any more (the hot state was replaced): screens list again.</summary>
    private void ForgetChanges()
    {
        _changeBase = ChangeCursor + 1;
        _changeLog.Clear();
        _batchChanges++;
    }

    /// <summary>How many runs the store holds: in the hot state, and in history (from its index, without reading segments).</summary>
    public (int Hot, int History) Count() => Locked(() => (_index.Count, _history.ReadIndex().RunCount));

    /// <summary>Null when history (its index, id index and segments) reads well, else what is wrong: for doctor.</summary>
    public string? CheckHistory() => Locked(() => new HistoryRepair(_fs, Paths, _durability).Check());
}
