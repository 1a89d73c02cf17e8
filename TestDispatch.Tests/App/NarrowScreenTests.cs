using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;

namespace TestDispatch.Tests.App;

/// <summary>
/// The lists at 40×15, 80×24 and 140 columns (issue 31, item 8): every column shown keeps what tells its rows apart. Before,
/// at 40×15 every machine read 'rig…', at 80×24 the host column hid the port, and 'unreachabl…' was cut even at 140.
/// </summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class NarrowScreenTests
{
    private static readonly string[] Names = ["rig-07-north", "rig-07-south", "rig-07-east", "rig-07-west"];

    private static IReadOnlyList<MachineState> Rigs() => [.. Names.Select((name, i) => new MachineState(new Machine
    {
        Name = name, Transport = TransportKind.Ssh, Host = "rig.lab.example.com", User = "lab", Port = 2201 + i, Tags = ["x86", "gpu"],
    })
    {
        State = i % 2 == 0 ? MachineState.UnreachableState : MachineState.Idle,
        Since = i % 2 == 0 ? DateTimeOffset.UtcNow : null,
        Unreachable = i % 2 == 0 ? "ssh: connect to host rig.lab.example.com port 2201: Connection refused" : null,
        Recent = [new Verdict("r1", RunStatus.Failed, "transport_unreachable")],
    })];

    /// <summary>The list's rows as the screen shows them, one per item, in order (the header and frame left out).</summary>
    private static string[] Rows(GridSource source, int width, int height, int count)
    {
        using HeadlessApp ui = new(width, height);
        using Window window = new();
        ListGrid grid = new(new Theme(true)) { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(), Source = source };
        window.Add(grid);
        ui.Show(window);
        string[] lines = ui.Screen.Split('\n');
        int header = Array.FindIndex(lines, l => l.Contains(source.Columns[0].Name, StringComparison.Ordinal));
        return lines[(header + 1)..(header + 1 + count)];
    }

    /// <summary>The row shows the name whole, or cut with its end kept: what differs between rig-07-north and rig-07-south.</summary>
    private static bool TellsApart(string row, string name) =>
        row.Contains(name, StringComparison.Ordinal) || Enumerable.Range(3, name.Length - 7).Any(k => row.Contains("…" + name[^k..], StringComparison.Ordinal));

    [Theory]
    [InlineData(40, 15)]
    [InlineData(80, 24)]
    [InlineData(140, 30)]
    public void Machines_keep_the_end_of_their_names_their_state_words_and_any_host_its_port(int width, int height)
    {
        string[] rows = Rows(new MachinesTable(Rigs()), width, height, Names.Length);

        for (int i = 0; i < Names.Length; i++)
        {
            string name = Names[i];
            Assert.True(TellsApart(rows[i], name), $"row {i} does not tell {name} apart: {rows[i]}");
            Assert.Contains(i % 2 == 0 ? "unreachable" : "idle", rows[i], StringComparison.Ordinal);
            if (rows[i].Contains("lab@", StringComparison.Ordinal) || width >= 80)
            {
                Assert.Contains($"{2201 + i}", rows[i], StringComparison.Ordinal);
            }
        }
        Assert.Equal(Names.Length, rows.Distinct().Count());
        Assert.DoesNotContain(rows, r => r.Contains("rig…", StringComparison.Ordinal) || r.Contains("unreachabl…", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(40, 15)]
    [InlineData(80, 24)]
    public void Runs_keep_their_id_the_end_of_their_machine_and_their_status_word(int width, int height)
    {
        RunRecord[] runs = [.. Names.Select((name, i) => new RunRecord
        {
            Run = new Run
            {
                Id = $"00000000000{i}", Machine = name, TestDir = $"/lab/suites/storage/fio-{i}", TestDirHash = "h", Status = RunStatus.Interrupted,
                ErrorCode = "transport_unreachable", LogsPath = "/l", ArtifactsPath = "/a",
            },
            Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)),
            Seq = i,
            CreatedAt = DateTimeOffset.UtcNow,
        })];

        string[] rows = Rows(new RunsTable(new RunsView(runs, RunFilter.All)), width, height, runs.Length);

        for (int i = 0; i < runs.Length; i++)
        {
            Assert.Contains(runs[i].Id, rows[i], StringComparison.Ordinal);
            Assert.True(TellsApart(rows[i], Names[i]), $"row {i} does not tell {Names[i]} apart: {rows[i]}");
            Assert.Contains("interrupted", rows[i], StringComparison.Ordinal);
        }
    }
}
