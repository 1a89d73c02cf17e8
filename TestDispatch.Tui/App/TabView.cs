using Terminal.Gui.Input;
using TestDispatch.Engine;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// One tab of the main screen (as k9s gives each view its own type): its list, how it shows a load, its filter, and its
/// keys. The main window routes to the tab in front what is the tab's, and keeps the rest (tabs, filter line, messages).
/// </summary>
public abstract class TabView(ITabHost host, Theme theme)
{
    protected ITabHost Host { get; } = host;

    protected Lab Lab => Host.Lab;

    /// <summary>Its name in the header ("Runs").</summary>
    public abstract string Title { get; }

    public ListGrid List { get; } = new(theme) { X = 0, Y = 1, Width = Terminal.Gui.ViewBase.Dim.Fill(), Height = Terminal.Gui.ViewBase.Dim.Fill(2) };

    /// <summary>The key hint the status bar shows for this tab's own action.</summary>
    public abstract (Key Key, string Title) ActionHint { get; }

    /// <summary>The help for this tab's own keys, joined to the main keys by '?'.</summary>
    public virtual string Keys => "";

    /// <summary>Shows what a load brought.</summary>
    public abstract void Show(ScreenData data);

    /// <summary>How many rows it shows, in words ("3 machines").</summary>
    public abstract string Count { get; }

    /// <summary>A line saying what to do when the list is empty for want of any item (not of a filter), else null.</summary>
    public virtual string? WhenEmpty(ScreenQuery query) => null;

    /// <summary>The text typed after '/' on this tab.</summary>
    public abstract string FilterOf(ScreenQuery query);

    public abstract ScreenQuery WithFilter(ScreenQuery query, string text);

    /// <summary>Enter or l: drill into the selected row.</summary>
    public abstract void Open();

    /// <summary>x: cancel what the selected row is about (after y).</summary>
    public abstract void AskCancel();

    /// <summary>The tab's own keys (d, x, Enter and the main keys are the window's); true when handled.</summary>
    public virtual bool HandleKey(Key key) => false;

    /// <summary>The machine the selected row is about, as the dispatch dialog's default.</summary>
    public virtual string? SelectedMachine => null;

    /// <summary>For a hint naming a command: how to get the short name, while this program is not on PATH.</summary>
    protected static string NotOnPath => Invocation.OnPath ? "" : " (scripts/install.sh puts 'testdispatch' on your PATH)";

    protected static string Plural(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}{(noun.EndsWith('h') ? "es" : "s")}";
}

/// <summary>What a tab asks of the main window: the lab, messages and confirmations, actions in flight, and other views.</summary>
public interface ITabHost
{
    Lab Lab { get; }

    ScreenQuery Query { get; }

    void SetQuery(ScreenQuery query);

    /// <summary>Shows the Runs tab scoped to one machine.</summary>
    void ShowRunsOf(string machine);

    void OpenRun(string runId);

    /// <summary>Opens the search of every log in history.</summary>
    void SearchLogs();

    void OpenBatch(string batchId);

    void Say(string text);

    void Confirm(string question, string declined, Func<Task> yes);

    /// <summary>Runs an engine action with a message while it is in flight, then says its result and reloads.</summary>
    Task Act(string inFlight, Func<Task<string>> action);

    /// <summary>Asks for a load (a patch of the runs could not be done in place: list them all again).</summary>
    void Reload(bool relist = false);
}
