using TestDispatch.Engine;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tests.App;

/// <summary>
/// The empty lists tell a newcomer a command to type (issue 31, item 10): one that works as the app was started, not
/// 'testdispatch …' before it is on PATH.
/// </summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class NewcomerHintTests : IDisposable
{
    private readonly CliHarness _lab = new();
    private readonly HeadlessApp _ui = new(120, 24);

    public void Dispose()
    {
        _ui.Dispose();
        _lab.Dispose();
    }

    [Fact]
    public void The_empty_runs_tab_names_the_command_as_this_program_runs_and_how_to_install_it()
    {
        Lab lab = _lab.OpenLab(startsAgents: false);
        using MainWindow window = new(_ui.App, lab, new Theme(true));
        _ui.Show(window);

        string screen = _ui.WaitFor("No runs yet");

        Assert.False(Invocation.OnPath, "the test host is not testdispatch on PATH");
        Assert.Contains($"'{Invocation.Command} run examples/pass --machine local-1'", screen.Replace("\n", "", StringComparison.Ordinal)
            .Replace("│", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("'testdispatch run", screen, StringComparison.Ordinal);
        Assert.Contains("scripts/install.sh", screen, StringComparison.Ordinal);
    }
}
