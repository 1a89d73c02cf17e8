using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>The Batches list as a table source: name, id, progress as counts and a bar, status, age. Newest first.</summary>
public sealed class BatchesTable(IReadOnlyList<Batch> batches, DateTimeOffset now) : GridSource
{
    private const int BarWidth = 20;

    private static readonly GridColumn[] Layout =
    [
        new("ID", 12, 12, Priority: 0), new("NAME", 6, 30, Cut.KeepBoth, Priority: 1), new("DONE", 5, 11, Priority: 3),
        new("PROGRESS", BarWidth + 2, BarWidth + 2, Priority: 6), new("PASSED/FAILED", 13, 13, Priority: 5),
        new("STATUS", 6, 9, Cut.KeepWord, Priority: 2), new("AGE", 4, 5, Priority: 4),
    ];

    public IReadOnlyList<Batch> Batches => batches;

    public override IReadOnlyList<GridColumn> Columns => Layout;

    public override int Rows => batches.Count;

    public override int StatusColumn => 5;

    public override RunStatus? Status(int row) => Theme.StatusOf(batches[row].Status);

    public override string Key(int row) => batches[row].Id;

    public override string Cell(int row, int column)
    {
        Batch batch = batches[row];
        return column switch
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

    /// <summary>Whether a batch matches the text typed after '/': its id, name, status or plan.</summary>
    public static bool Matches(Batch batch, string text) =>
        text.Length == 0 ||
        batch.Id.Contains(text, StringComparison.OrdinalIgnoreCase) ||
        batch.Name.Contains(text, StringComparison.OrdinalIgnoreCase) ||
        batch.Status.ToWord().Contains(text, StringComparison.OrdinalIgnoreCase) ||
        batch.Plan.Contains(text, StringComparison.OrdinalIgnoreCase);
}

/// <summary>A batch's entries: where each is, its latest run and how it ended.</summary>
public sealed class BatchItemsTable(IReadOnlyList<BatchItem> items) : GridSource
{
    private static readonly GridColumn[] Layout =
    [
        new("ENTRY", 6, 24, Cut.KeepBoth, Priority: 0), new("TARGET", 6, 20, Cut.KeepBoth, Priority: 4),
        new("STATUS", 7, 60, Cut.KeepWord, Priority: 1), new("TRIES", 5, 5, Priority: 6), new("RUN", 12, 12, Priority: 3),
        new("MACHINE", 7, 16, Cut.KeepBoth, Priority: 2), new("EXIT", 4, 5, Priority: 5), new("TEST", 10, int.MaxValue, Cut.KeepEnd, Priority: 7),
    ];

    public IReadOnlyList<BatchItem> Items => items;

    public override IReadOnlyList<GridColumn> Columns => Layout;

    public override int Rows => items.Count;

    public override int StatusColumn => 2;

    public override RunStatus? Status(int row) => Theme.StatusOf(items[row].Status);

    public override string Key(int row) => items[row].Name;

    public override string Cell(int row, int column)
    {
        BatchItem item = items[row];
        return column switch
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
