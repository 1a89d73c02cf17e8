using TestDispatch.Engine.Machines;
using TestDispatch.Tui.Cli;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>The Machines list: each machine, where it is, and what occupies it.</summary>
public sealed class MachinesTable(IReadOnlyList<MachineState> machines) : ITableSource
{
    public IReadOnlyList<MachineState> Machines => machines;

    public string[] ColumnNames { get; } = ["NAME", "TRANSPORT", "HOST", "TAGS", "STATE", "CURRENT RUN", "LAST"];

    public int Columns => ColumnNames.Length;

    public int Rows => machines.Count;

    public object this[int row, int col]
    {
        get
        {
            MachineState m = machines[row];
            return col switch
            {
                0 => m.Name,
                1 => m.Transport,
                2 => m.Machine.Location,
                3 => Format.Tags(m.Tags),
                4 => m.State,
                5 => m.CurrentRun ?? "-",
                _ => m.LastStatus is { } last ? Engine.Runs.RunStatusExtensions.ToWord(last) : "-",
            };
        }
    }

    public static void Style(TableView table, Theme theme)
    {
        table.Style.GetOrCreateColumnStyle(6).ColorGetter = args =>
            args.Table is MachinesTable source && args.RowIndex < source.Rows ? theme.ForStatus(source.Machines[args.RowIndex].LastStatus, args.RowScheme) : null;
    }
}
