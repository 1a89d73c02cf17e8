using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>The Runs list over a <see cref="RunsView"/>: cells are made only for the rows on screen (O(1) per cell).</summary>
public sealed class RunsTable(RunsView runs) : GridSource
{
    private static readonly GridColumn[] Layout =
    [
        new("ID", 12, 12, Priority: 0), new("MACHINE", 5, 16, Cut.KeepBoth, Priority: 2), new("STATUS", 6, 36, Cut.KeepWord, Priority: 1),
        new("EXIT", 4, 5, Priority: 5), new("TESTS", 5, 11, Priority: 4), new("STARTED", 8, 12, Priority: 6), new("DURATION", 8, 9, Priority: 7),
        new("BATCH", 5, 24, Cut.KeepEnd, Priority: 8), new("TEST", 10, int.MaxValue, Cut.KeepEnd, Priority: 3),
    ];

    public RunsView Runs => runs;

    public override IReadOnlyList<GridColumn> Columns => Layout;

    public override int Rows => runs.Count;

    public override int StatusColumn => 2;

    public override RunStatus? Status(int row) => runs[row].Status;

    public override string Key(int row) => runs[row].Id;

    public override int RowOf(string key) => runs.RowOf(key);

    public override string Cell(int row, int column)
    {
        Run run = runs[row];
        return column switch
        {
            0 => run.Id,
            1 => run.Machine,
            2 => Format.Status(run),
            3 => Format.Exit(run),
            4 => Format.PassedOf(run.Tests),
            5 => Format.When(run.StartedAt, DateTimeOffset.Now),
            6 => Format.Duration(run),
            7 => Format.Batch(run) is { Length: > 0 } batch ? batch : "-",
            _ => run.TestDir,
        };
    }
}
