using Terminal.Gui.App;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>'?': every key that works in the current view. Any key closes it.</summary>
public sealed class HelpWindow : Window
{
    public const string MainKeys = """
        1 2 3  Tab     Machines / Runs / Batches
        ↑ ↓  j k       move          g G  Home End   first / last
        PgUp PgDn      page
        Enter  l       open: a machine's runs, a run's view, a batch's entries
        /              filter the list as you type (any column); Enter keeps it, Esc clears
        Esc            clear the filter, then the machine scope
        d              dispatch a test directory
        x              cancel the selected run or batch (y to confirm)
        r              re-run the selected run's test dir on its machine
        R              on Batches: rerun the selected batch's entries that did not pass
        S              on Runs: search every log in history (Enter opens a hit at its line)
        D  u           on Machines: drain the machine (no new work) / resume it (y to confirm)
                       RECENT: last ten verdicts, oldest first: C completed, F failed (the test),
                       E could not run it (the rig's fault), T timeout, I interrupted
        ?              this help        q  Ctrl+C   quit (runs keep going)
        Ctrl+L         repaint the whole screen (anywhere)
        """;

    public const string BatchKeys = """
        ↑ ↓  j k       move          g G  Home End   first / last
        Enter  l       open the entry's latest run
        x              cancel this batch: drop waiting entries, stop running ones (y to confirm)
        R              rerun the entries that did not pass, as a new batch
        Esc  q         back to the lists
        """;

    public const string RunKeys = """
        ↑ ↓  j k       scroll (scrolling up pauses follow)
        PgUp PgDn      page            g  Home   start of the log
        G  End         end of the log, follow on
        f              follow on / off w         wrap on / off
        /              search the log; n / N next / previous hit
        t              test cases instead of the log (failures first, new marked); Enter: its message, log at it; t: the log
        x              cancel this run (y to confirm)
        r              re-run this test dir on this machine
        D              diff this log against the last pass (times, pids, temp paths ignored)
        Esc  q         back to the lists
        """;

    private HelpWindow(string keys)
    {
        Title = "Keys (any key closes)";
        Width = Dim.Percent(90);
        Height = keys.Split('\n').Length + 2;
        X = Pos.Center();
        Y = Pos.Center();
        Add(new Label { Text = keys, Width = Dim.Fill(), Height = Dim.Fill() });
        KeyDown += (_, key) =>
        {
            key.Handled = true;
            App?.RequestStop();
        };
    }

    public static void Show(IApplication app, string keys)
    {
        using HelpWindow window = new(keys);
        app.Run(window);
    }
}
