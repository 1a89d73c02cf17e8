using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.App;

/// <summary>What the lists show, loaded off the UI thread in one go from the store.</summary>
public sealed record ScreenData(IReadOnlyList<MachineState> Machines, IReadOnlyList<Run> Runs, IReadOnlyList<Batch> Batches, long Version, ScreenQuery Query)
{
    /// <summary>Loads what changed: when the store and the query are as before, the runs and batches lists are reused as they are.</summary>
    public static ScreenData Load(Lab lab, ScreenQuery query, ScreenData? previous = null)
    {
        long version = lab.Store.Refresh();
        IReadOnlyList<MachineState> machines = lab.Machines();
        if (!string.IsNullOrEmpty(query.MachineText))
        {
            machines = [.. machines.Where(m =>
                m.Name.Contains(query.MachineText, StringComparison.OrdinalIgnoreCase) ||
                m.Machine.Location.Contains(query.MachineText, StringComparison.OrdinalIgnoreCase) ||
                m.State.Contains(query.MachineText, StringComparison.OrdinalIgnoreCase) ||
                m.Tags.Any(t => t.Contains(query.MachineText, StringComparison.OrdinalIgnoreCase)))];
        }
        bool unchanged = previous is not null && previous.Version == version;
        IReadOnlyList<Run> runs = unchanged && previous!.Query with { MachineText = "", BatchText = "" } == query with { MachineText = "", BatchText = "" }
            ? previous.Runs
            : lab.Runs(new RunFilter(Machine: query.Machine, Text: query.RunText));
        IReadOnlyList<Batch> batches = unchanged && previous!.Query.BatchText == query.BatchText
            ? previous.Batches
            : [.. lab.Batches().Where(b => App.BatchesTable.Matches(b, query.BatchText))];
        return new ScreenData(machines, runs, batches, version, query);
    }
}

/// <summary>The filters in force: a machine drilled into, and the text typed after '/' on each list.</summary>
public sealed record ScreenQuery(string? Machine = null, string RunText = "", string MachineText = "", string BatchText = "");
