using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.App;

/// <summary>
/// The runs the Runs tab shows: those matching its filter, newest first, patched in place with the runs that changed
/// (a refresh costs what changed, not the history). Kept oldest first inside, so a new run is an append and every
/// other row keeps its slot. UI thread only.
/// </summary>
public sealed class RunsView
{
    private readonly List<RunRecord> _oldestFirst;
    private readonly Dictionary<string, int> _slots;
    private readonly RunFilter _filter;

    public RunsView(IReadOnlyList<RunRecord> newestFirst, RunFilter filter)
    {
        _filter = filter;
        _oldestFirst = new List<RunRecord>(newestFirst.Count);
        _slots = new Dictionary<string, int>(newestFirst.Count, StringComparer.Ordinal);
        for (int i = newestFirst.Count - 1; i >= 0; i--)
        {
            _slots[newestFirst[i].Id] = _oldestFirst.Count;
            _oldestFirst.Add(newestFirst[i]);
        }
    }

    public static RunsView Empty { get; } = new([], RunFilter.All);

    public int Count => _oldestFirst.Count;

    /// <summary>Row 0 is the newest run.</summary>
    public Run this[int row] => _oldestFirst[Count - 1 - row].Run;

    /// <summary>The row showing the run, or -1.</summary>
    public int RowOf(string id) => _slots.TryGetValue(id, out int slot) ? Count - 1 - slot : -1;

    /// <summary>
    /// Applies runs that changed: a shown run is replaced in its row, a new matching run goes on top. Returns false
    /// (and changes nothing) when the patch cannot be done in place: a shown run stopped matching the filter, or an
    /// older run started to; then the caller lists again. <paramref name="rows"/> gets the rows that changed.
    /// </summary>
    public bool TryPatch(IReadOnlyList<RunRecord> changed, out int added, List<int> rows)
    {
        added = 0;
        long newest = Count > 0 ? _oldestFirst[^1].Seq : long.MinValue;
        foreach (RunRecord run in changed)
        {
            bool matches = _filter.Matches(run.Run);
            bool shown = _slots.ContainsKey(run.Id);
            if (shown != matches && (shown || run.Seq <= newest))
            {
                return false;
            }
        }
        List<RunRecord> fresh = [];
        foreach (RunRecord run in changed)
        {
            if (_slots.TryGetValue(run.Id, out int slot))
            {
                _oldestFirst[slot] = run;
                rows.Add(slot);
            }
            else if (_filter.Matches(run.Run))
            {
                fresh.Add(run);
            }
        }
        foreach (RunRecord run in fresh.OrderBy(r => r.Seq))
        {
            _slots[run.Id] = _oldestFirst.Count;
            _oldestFirst.Add(run);
        }
        added = fresh.Count;
        for (int i = 0; i < rows.Count; i++)
        {
            rows[i] = Count - 1 - rows[i]; // slots to rows, now that the count is final
        }
        return true;
    }
}
