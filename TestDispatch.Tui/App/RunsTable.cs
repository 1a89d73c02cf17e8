using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Cli;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>
/// The Runs list as a table source over a <see cref="RunsView"/>: cells are made only for the rows on screen (O(1)
/// per cell), so a history of 100k runs costs one list of references, not 100k rows of text.
/// </summary>
public sealed class RunsTable(RunsView runs) : ITableSource
{
    public const int StatusColumn = 2;

    public RunsView Runs => runs;

    public string[] ColumnNames { get; } = ["ID", "MACHINE", "STATUS", "EXIT", "STARTED", "DURATION", "BATCH", "TEST"];

    public int Columns => ColumnNames.Length;

    public int Rows => runs.Count;

    public object this[int row, int col]
    {
        get
        {
            Run run = runs[row];
            return col switch
            {
                0 => run.Id,
                1 => run.Machine,
                2 => Format.Status(run),
                3 => Format.Exit(run),
                4 => Format.Time(run.StartedAt),
                5 => Format.Duration(run),
                6 => Format.Batch(run) is { Length: > 0 } batch ? batch : "-",
                _ => run.TestDir,
            };
        }
    }

    public static void Style(TableView table, Theme theme)
    {
        int[] min = [12, 8, 9, 4, 19, 8, 5, 10];
        int[] max = [12, 16, 32, 5, 19, 9, 20, 60];
        for (int i = 0; i < min.Length; i++)
        {
            ColumnStyle style = table.Style.GetOrCreateColumnStyle(i);
            style.MinWidth = min[i];
            style.MaxWidth = max[i];
        }
        table.Style.GetOrCreateColumnStyle(StatusColumn).ColorGetter = args =>
            args.Table is RunsTable source && args.RowIndex < source.Rows ? theme.ForStatus(source.Runs[args.RowIndex].Status, args.RowScheme) : null;
    }
}
