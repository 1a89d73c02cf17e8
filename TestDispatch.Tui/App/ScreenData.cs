using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.App;

/// <summary>
/// What one refresh brings, loaded off the UI thread: the machines (with what Slurm says of a Slurm machine's node); the runs, either all that match the query
/// (<see cref="AllRuns"/>) or only those changed since the last load (<see cref="ChangedRuns"/>, to patch the shown
/// list in place); and the batches, or null when they did not change.
/// </summary>
public sealed record ScreenData(
    IReadOnlyList<MachineState> Machines,
    IReadOnlyList<RunRecord>? AllRuns,
    IReadOnlyList<RunRecord>? ChangedRuns,
    IReadOnlyList<Batch>? Batches,
    long Cursor,
    long BatchChanges,
    ScreenQuery Query)
{
    /// <summary>How often the app asks Slurm about its machines' nodes (sinfo and squeue; the lists refresh every second).</summary>
    public static readonly TimeSpan SlurmEvery = TimeSpan.FromSeconds(5);

    public RunFilter RunFilter => Query.RunFilter;

    /// <summary>
    /// Loads what changed since <paramref name="previous"/>: only the changed runs when the runs query is the same
    /// (unless <paramref name="relist"/>), the batches only when they or their runs changed.
    /// </summary>
    public static async Task<ScreenData> LoadAsync(Lab lab, ScreenQuery query, ScreenData? previous = null, bool relist = false)
    {
        lab.Refresh();
        IReadOnlyList<MachineState> machines = await lab.MachinesAsync(SlurmEvery);
        if (!string.IsNullOrEmpty(query.MachineText))
        {
            machines = [.. machines.Where(m =>
                m.Name.Contains(query.MachineText, StringComparison.OrdinalIgnoreCase) ||
                m.Machine.Location.Contains(query.MachineText, StringComparison.OrdinalIgnoreCase) ||
                m.State.Contains(query.MachineText, StringComparison.OrdinalIgnoreCase) ||
                m.Tags.Any(t => t.Contains(query.MachineText, StringComparison.OrdinalIgnoreCase)))];
        }

        IReadOnlyList<RunRecord>? all = null;
        IReadOnlyList<RunRecord>? changed = null;
        long batchChanges = 0;
        long cursor = 0;
        if (previous is not null && !relist && previous.RunFilter == query.RunFilter)
        {
            (changed, batchChanges, cursor) = lab.RunChangesSince(previous.Cursor);
        }
        if (changed is null)
        {
            (all, batchChanges, cursor) = lab.RunsWithCursor(query.RunFilter);
        }

        bool batchesChanged = previous is null || all is not null || batchChanges != previous.BatchChanges ||
            previous.Query.BatchText != query.BatchText || changed!.Any(r => r.Run.BatchId is not null);
        IReadOnlyList<Batch>? batches = batchesChanged
            ? [.. lab.Batches(ScreenQuery.BatchesShown).Where(b => BatchesTable.Matches(b, query.BatchText))]
            : null;
        return new ScreenData(machines, all, changed, batches, cursor, batchChanges, query);
    }
}

/// <summary>
/// The filters in force: a machine drilled into, and the text typed after '/' on each list; and how many runs the Runs
/// tab holds (<see cref="RunsShown"/>, a page more each time its cursor nears the end), so opening it over a million
/// runs of history reads one page of them.
/// </summary>
public sealed record ScreenQuery(string? Machine = null, string RunText = "", string MachineText = "", string BatchText = "")
{
    public const int RunsPage = 1_000;

    /// <summary>The newest batches the Batches tab lists (the CLI's 'batch list' has them all).</summary>
    public const int BatchesShown = 500;

    public int RunsShown { get; init; } = RunsPage;

    /// <summary>Every run that matches (<see cref="RunsShown"/> for G/End on the Runs tab: to the real end).</summary>
    public const int AllRuns = int.MaxValue;

    public RunFilter RunFilter => new(Machine: Machine, Text: RunText, Limit: RunsShown);
}
