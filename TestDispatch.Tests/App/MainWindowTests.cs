using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class MainWindowTests : IDisposable
{
    private readonly CliHarness _lab = new();
    private readonly HeadlessApp _ui = new();
    private readonly Lab _engine;

    public MainWindowTests()
    {
        _engine = _lab.OpenLab(startsAgents: false);
    }

    public void Dispose()
    {
        _ui.Dispose();
        _lab.Dispose();
    }

    private Run Add(string machine, string hash, RunStatus? end = null, int exit = 0)
    {
        Run run = _engine.Store.Prepare(Request(machine: machine, hash: hash, testDir: $"/tests/{hash}")).Run;
        return end is { } status ? _engine.Store.Update(run.Id, r => Finished(Running(r), status, exit)).Run : run;
    }

    private MainWindow Open(Theme? theme = null)
    {
        MainWindow window = new(_ui.App, _engine, theme ?? new Theme(true));
        _ui.Show(window);
        return window;
    }

    [Fact]
    public void Opens_on_the_runs_tab_with_every_run_newest_first_and_the_tabs_in_the_header()
    {
        Run old = Add("local-1", "smoke", RunStatus.Failed, 2);
        Run recent = Add("local-2", "soak");
        using MainWindow window = Open();

        string screen = _ui.WaitFor(recent.Id);

        Assert.Contains("[2 Runs]", screen, StringComparison.Ordinal);
        Assert.Contains("1 Machines", screen, StringComparison.Ordinal);
        Assert.Contains("3 Batches", screen, StringComparison.Ordinal);
        Assert.True(screen.IndexOf(recent.Id, StringComparison.Ordinal) < screen.IndexOf(old.Id, StringComparison.Ordinal));
        Assert.Contains("failed", screen, StringComparison.Ordinal);
        Assert.Contains("pending", screen, StringComparison.Ordinal);
        Assert.Contains("q  quit", screen, StringComparison.Ordinal);
    }

    [Fact]
    public void Key_1_shows_the_machines_with_their_state_and_current_run()
    {
        Run busy = Add("local-2", "soak");
        using MainWindow window = Open();

        _ui.Press(new Key('1'));

        string screen = _ui.WaitFor(s => s.Contains("[1 Machines]", StringComparison.Ordinal) && s.Contains(busy.Id, StringComparison.Ordinal), "the machines tab");
        Assert.Contains("local-1", screen, StringComparison.Ordinal);
        Assert.Contains("idle", screen, StringComparison.Ordinal);
        Assert.Contains("busy", screen, StringComparison.Ordinal);
    }

    [Fact]
    public void Slash_filters_the_list_as_you_type_and_Esc_clears_it()
    {
        Run smoke = Add("local-1", "smoke", RunStatus.Completed);
        Run soak = Add("local-2", "soak", RunStatus.Failed, 1);
        using MainWindow window = Open();
        _ui.WaitFor(soak.Id);

        _ui.Press(new Key('/'));
        _ui.Type("smo");
        string filtered = _ui.WaitFor(s => !s.Contains(soak.Id, StringComparison.Ordinal), "the soak run filtered out");
        _ui.Press(Key.Esc);
        string cleared = _ui.WaitFor(soak.Id);

        Assert.Contains(smoke.Id, filtered, StringComparison.Ordinal);
        Assert.Contains("filter: smo", filtered, StringComparison.Ordinal);
        Assert.Contains(smoke.Id, cleared, StringComparison.Ordinal);
    }

    [Fact]
    public void Enter_on_a_machine_drills_into_its_runs_and_Esc_goes_back_to_all()
    {
        Run mine = Add("local-1", "smoke", RunStatus.Completed);
        Run other = Add("local-2", "soak", RunStatus.Completed);
        using MainWindow window = Open();
        _ui.Press(new Key('1'));
        _ui.WaitFor("[1 Machines]");

        _ui.Press(Key.Enter);
        string drilled = _ui.WaitFor(s => s.Contains("machine: local-1", StringComparison.Ordinal) && !s.Contains(other.Id, StringComparison.Ordinal), "local-1's runs");
        _ui.Press(Key.Esc);
        string all = _ui.WaitFor(other.Id);

        Assert.Contains(mine.Id, drilled, StringComparison.Ordinal);
        Assert.DoesNotContain("machine: local-1", all, StringComparison.Ordinal);
    }

    [Fact]
    public void The_list_refreshes_by_itself_when_another_process_adds_a_run()
    {
        Run first = Add("local-1", "smoke", RunStatus.Completed);
        using MainWindow window = Open();
        _ui.WaitFor(first.Id);

        Run later = _lab.OpenLab(startsAgents: false).Store.Prepare(Request(machine: "local-2", hash: "late")).Run;

        _ui.WaitFor(later.Id);
    }

    [Fact]
    public void Status_is_coloured_and_under_NO_COLOR_only_the_word_remains()
    {
        Add("local-1", "smoke", RunStatus.Failed, 1);
        Add("local-2", "newer", RunStatus.Completed); // selected (newest first), so the failed row draws unselected
        using MainWindow coloured = Open(new Theme(true));
        _ui.WaitFor("failed");
        Color colouredFailed = ForegroundOf("failed");

        coloured.StopRefreshing();
        using HeadlessApp plainUi = new();
        using MainWindow plain = new(plainUi.App, _engine, new Theme(false));
        plainUi.Show(plain);
        plainUi.WaitFor("failed");
        Color plainFailed = ForegroundOf("failed", plainUi);

        Assert.Equal(new Color(ColorName16.Red), colouredFailed);
        Assert.NotEqual(new Color(ColorName16.Red), plainFailed);
    }

    private Color ForegroundOf(string word, HeadlessApp? ui = null)
    {
        ui ??= _ui;
        string[] lines = ui.Screen.Split('\n');
        for (int row = 0; row < lines.Length; row++)
        {
            int col = lines[row].IndexOf(word, StringComparison.Ordinal);
            if (col >= 0)
            {
                return ui.App.Driver!.Contents![row, col].Attribute!.Value.Foreground;
            }
        }
        throw new InvalidOperationException($"'{word}' is not on screen");
    }
}

[CollectionDefinition("Terminal", DisableParallelization = true)]
public sealed class TerminalCollection;
