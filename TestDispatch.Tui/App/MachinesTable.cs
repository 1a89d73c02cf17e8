using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tui.App;

/// <summary>The Machines list: each machine, where it is, and what occupies it.</summary>
public sealed class MachinesTable(IReadOnlyList<MachineState> machines) : GridSource
{
    private static readonly GridColumn[] Layout =
    [
        new("NAME", 4, 24), new("TRANSPORT", 9, 9), new("HOST", 4, 30), new("TAGS", 4, 30), new("STATE", 11, 11),
        new("CURRENT RUN", 12, 12), new("LAST", 11, 11),
    ];

    public IReadOnlyList<MachineState> Machines => machines;

    public override IReadOnlyList<GridColumn> Columns => Layout;

    public override int Rows => machines.Count;

    public override int StatusColumn => 6;

    public override RunStatus? Status(int row) => machines[row].LastStatus;

    public override string Key(int row) => machines[row].Name;

    public override string Cell(int row, int column)
    {
        MachineState m = machines[row];
        return column switch
        {
            0 => m.Name,
            1 => m.Transport,
            2 => m.Machine.Location,
            3 => Format.Tags(m.Tags),
            4 => m.Unreachable is not null && m.Since is { } since ? $"{m.State} since {since.ToLocalTime():HH:mm}" : m.State,
            5 => m.CurrentRun ?? "-",
            _ => m.LastStatus is { } last ? last.ToWord() : "-",
        };
    }
}
