using TestDispatch.Engine.Batches;
using TestDispatch.Tui.Cli;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>The Batches list as a table source: name, id, progress as counts and a bar, status, age. Newest first.</summary>
public sealed class BatchesTable(IReadOnlyList<Batch> batches, DateTimeOffset now) : ITableSource
{
    public const int StatusColumn = 5;
    private const int BarWidth = 20;

    public IReadOnlyList<Batch> Batches => batches;

    public string[] ColumnNames { get; } = ["ID", "NAME", "DONE", "PROGRESS", "PASSED/FAILED", "STATUS", "AGE"];

    public int Columns => ColumnNames.Length;

    public int Rows => batches.Count;

    public object this[int row, int col]
    {
        get
        {
            Batch batch = batches[row];
            return col switch
            {
                0 => batch.Id,
                1 => batch.Name,
                2 => Format.Progress(batch),
                3 => Format.Bar(batch, BarWidth),
                4 => $"{batch.Counts.Completed}/{batch.Counts.Done - batch.Counts.Completed}",
                5 => batch.Status.ToWord(),
                _ => Format.Age(batch.CreatedAt, now),
            };
        }
    }

    /// <summary>Whether a batch matches the text typed after '/': its id, name, status or plan.</summary>
    public static bool Matches(Batch batch, string text) =>
        text.Length == 0 ||
        batch.Id.Contains(text, StringComparison.OrdinalIgnoreCase) ||
        batch.Name.Contains(text, StringComparison.OrdinalIgnoreCase) ||
        batch.Status.ToWord().Contains(text, StringComparison.OrdinalIgnoreCase) ||
        batch.Plan.Contains(text, StringComparison.OrdinalIgnoreCase);

    public static void Style(TableView table, Theme theme)
    {
        int[] min = [12, 6, 5, BarWidth + 2, 13, 9, 4];
        int[] max = [12, 30, 11, BarWidth + 2, 13, 9, 5];
        for (int i = 0; i < min.Length; i++)
        {
            ColumnStyle style = table.Style.GetOrCreateColumnStyle(i);
            style.MinWidth = min[i];
            style.MaxWidth = max[i];
        }
        table.Style.GetOrCreateColumnStyle(StatusColumn).ColorGetter = args =>
            args.Table is BatchesTable source && args.RowIndex < source.Rows ? theme.ForStatus(Theme.StatusOf(source.Batches[args.RowIndex].Status), args.RowScheme) : null;
    }
}

/// <summary>A batch's entries: where each is, its latest run and how it ended.</summary>
public sealed class BatchItemsTable(IReadOnlyList<BatchItem> items) : ITableSource
{
    public const int StatusColumn = 2;

    public IReadOnlyList<BatchItem> Items => items;

    public string[] ColumnNames { get; } = ["ENTRY", "TARGET", "STATUS", "TRIES", "RUN", "MACHINE", "EXIT", "TEST"];

    public int Columns => ColumnNames.Length;

    public int Rows => items.Count;

    public object this[int row, int col]
    {
        get
        {
            BatchItem item = items[row];
            return col switch
            {
                0 => item.Name,
                1 => Format.Target(item),
                2 => Format.Status(item),
                3 => Format.Count(item.Attempts),
                4 => item.RunId ?? "-",
                5 => item.RanOn ?? "-",
                6 => item.ExitCode is { } exit ? Format.Count(exit) : "-",
                _ => item.TestDir,
            };
        }
    }

    public static void Style(TableView table, Theme theme)
    {
        int[] min = [6, 6, 9, 5, 12, 7, 4, 10];
        int[] max = [24, 20, 32, 5, 12, 16, 5, 60];
        for (int i = 0; i < min.Length; i++)
        {
            ColumnStyle style = table.Style.GetOrCreateColumnStyle(i);
            style.MinWidth = min[i];
            style.MaxWidth = max[i];
        }
        table.Style.GetOrCreateColumnStyle(StatusColumn).ColorGetter = args =>
            args.Table is BatchItemsTable source && args.RowIndex < source.Rows ? theme.ForStatus(Theme.StatusOf(source.Items[args.RowIndex].Status), args.RowScheme) : null;
    }
}
