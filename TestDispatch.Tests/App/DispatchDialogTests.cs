using Terminal.Gui.Input;
using Terminal.Gui.Testing;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class DispatchDialogTests : IDisposable
{
    private readonly CliHarness _lab = new();
    private readonly HeadlessApp _ui = new(110, 30);
    private readonly Lab _engine;

    public DispatchDialogTests()
    {
        _engine = _lab.OpenLab(startsAgents: false);
    }

    public void Dispose()
    {
        _ui.Dispose();
        _lab.Dispose();
    }

    private void SetTestDir(string path)
    {
        _ui.Press(Key.End);
        for (int i = 0; i < 200; i++)
        {
            _ui.App.InjectKey(Key.Backspace);
        }
        _ui.Type(path);
    }

    [Fact]
    public void A_missing_test_dir_is_reported_in_the_dialog_and_what_was_typed_is_kept()
    {
        using DispatchDialog dialog = new(_ui.App, _engine, "local-1");
        _ui.Show(dialog);
        string missing = _lab.Combine("no-such-test");

        SetTestDir(missing);
        _ui.Press(Key.Enter);
        string screen = _ui.WaitFor("test_dir_not_found");

        Assert.Contains(missing, screen, StringComparison.Ordinal);
        Assert.Null(dialog.Dispatched);
        Assert.Empty(_engine.Store.List());
    }

    [Fact]
    public void A_busy_machine_is_marked_and_refused_with_the_occupying_run()
    {
        Run occupying = _engine.Store.Prepare(Request(machine: "local-1", hash: "other")).Run;
        using DispatchDialog dialog = new(_ui.App, _engine, "local-1");
        _ui.Show(dialog);
        _ui.WaitFor($"(busy: {occupying.Id})");

        SetTestDir(_lab.MakeTest("mine", "exit 0"));
        _ui.Press(Key.Enter);
        string screen = _ui.WaitFor("machine_busy");

        Assert.Contains(occupying.Id, screen, StringComparison.Ordinal);
        Assert.Null(dialog.Dispatched);
    }

    [Fact]
    public void Esc_with_typed_input_asks_before_discarding_it()
    {
        using DispatchDialog dialog = new(_ui.App, _engine, "local-1");
        _ui.Show(dialog);
        SetTestDir("/some/where");

        _ui.Press(Key.Esc);
        string asked = _ui.WaitFor("Discard what you typed?");
        _ui.Press(new Key('n'));
        string kept = _ui.WaitFor(s => !s.Contains("Discard", StringComparison.Ordinal), "the question to go");

        Assert.Contains("/some/where", asked, StringComparison.Ordinal);
        Assert.Contains("/some/where", kept, StringComparison.Ordinal);
        Assert.True(dialog.IsRunning);
    }

    [Fact]
    public void Tab_completes_a_directory_name()
    {
        string test = _lab.MakeTest("unique-name", "exit 0");
        using DispatchDialog dialog = new(_ui.App, _engine, "local-1");
        _ui.Show(dialog);

        SetTestDir(Path.Combine(Path.GetDirectoryName(test)!, "uniq"));
        _ui.Press(Key.Tab);

        _ui.WaitFor(test + "/");
    }

    [Fact]
    public async Task Enter_dispatches_to_the_chosen_machine()
    {
        string test = _lab.MakeTest("ok", "exit 0");
        using DispatchDialog dialog = new(_ui.App, _engine, "local-2");
        _ui.Show(dialog);

        SetTestDir(test);
        _ui.Press(Key.Enter);
        _ui.WaitFor(_ => dialog.Dispatched is not null, "the dispatch");
        Run run = await Task.FromResult(dialog.Dispatched!);

        Assert.Equal(("local-2", test, RunStatus.Pending), (run.Machine, run.TestDir, run.Status));
    }
}
