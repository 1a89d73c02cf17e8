using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>The Runs list over a <see cref="RunsView"/>: cells are made only for the rows on screen (O(1) per cell).</summary>
public sealed class RunsTable(RunsView runs) : GridSource
{
    private static readonly GridColumn[] Layout =
    [
        new("ID", 12, 12), new("MACHINE", 7, 16), new("STATUS", 9, 32), new("EXIT", 4, 5), new("STARTED", 8, 12),
        new("DURATION", 8, 9), new("BATCH", 5, 24, KeepEnd: true), new("TEST", 10, int.MaxValue, KeepEnd: true),
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
            4 => Format.When(run.StartedAt, DateTimeOffset.Now),
            5 => Format.Duration(run),
            6 => Format.Batch(run) is { Length: > 0 } batch ? batch : "-",
            _ => run.TestDir,
        };
    }
}
