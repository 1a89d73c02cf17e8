using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// The Machines list: each machine, what it is doing (or why it is out of service), its queue, its last ten verdicts as
/// letters (each in its status colour; the letters stay without colour), its infrastructure failures in a row, and where
/// it is. What matters to find the bad rig comes first, so it fits 80 columns.
/// </summary>
public sealed class MachinesTable(IReadOnlyList<MachineState> machines) : GridSource
{
    private static readonly GridColumn[] Layout =
    [
        new("NAME", 4, 16), new("STATE", 5, 11), new("Q", 1, 3), new("RECENT", 6, 10), new("INFRA", 5, 5),
        new("CURRENT RUN", 11, 12), new("HOST", 4, 24), new("TAGS", 4, 24), new("NOTE", 4, int.MaxValue),
    ];

    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

    public IReadOnlyList<MachineState> Machines => machines;

    public override IReadOnlyList<GridColumn> Columns => Layout;

    public override int Rows => machines.Count;

    public override int LettersColumn => 3;

    public override RunStatus? LetterStatus(int row, int index) =>
        index < machines[row].Recent.Count ? machines[row].Recent[index].Status : null;

    public override string Key(int row) => machines[row].Name;

    public override string Cell(int row, int column)
    {
        MachineState m = machines[row];
        return column switch
        {
            0 => m.Name,
            1 => m.Unreachable is not null && m.Since is { } since ? $"{m.State} {since.ToLocalTime():HH:mm}" : m.State,
            2 => Format.Count(m.Queue.Count),
            3 => Format.Recent(m),
            4 => Format.Count(m.InfraFailures),
            5 => m.CurrentRun ?? "-",
            6 => m.Machine.Location,
            7 => Format.Tags(m.Tags),
            _ => Format.Note(m, _now),
        };
    }
}
