using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// The Machines list: each machine, what it is doing (or why it is out of service), its queue, its last ten verdicts as
/// letters (each in its status colour; the letters stay without colour), its infrastructure failures in a row, where
/// it is, and a note (why it is out of service; what Slurm says of a Slurm machine's node and who holds it). What matters to find the bad rig comes first, so it fits 80 columns; narrower, the name (both its ends), the state
/// (its word whole) and the host (with its port) stay longest.
/// </summary>
public sealed class MachinesTable(IReadOnlyList<MachineState> machines) : GridSource
{
    private static readonly GridColumn[] Layout =
    [
        new("NAME", 5, 16, Cut.KeepBoth, Priority: 0), new("STATE", 4, 17, Cut.KeepWord, Priority: 1), new("Q", 1, 3, Priority: 5),
        new("RECENT", 6, 10, Priority: 3), new("INFRA", 5, 5, Priority: 6), new("CURRENT RUN", 12, 12, Priority: 4),
        new("HOST", 8, 28, Cut.KeepBoth, Priority: 2), new("TAGS", 4, 24, Priority: 8), new("NOTE", 4, int.MaxValue, Priority: 7),
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
            _ => Format.NoteWithSlurm(m, _now),
        };
    }
}
