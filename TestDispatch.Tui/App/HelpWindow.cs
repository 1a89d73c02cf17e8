using Terminal.Gui.App;
using Terminal.Gui.Input;
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
        Enter  l       open: a machine's runs, a run's view
        /              filter the list as you type (any column); Enter keeps it, Esc clears
        Esc            clear the filter, then the machine scope
        d              dispatch a test directory
        x              cancel the selected run (y to confirm)
        r              re-run the selected run's test dir on its machine
        ?              this help        q  Ctrl+C   quit (runs keep going)
        """;

    public const string RunKeys = """
        ↑ ↓  j k       scroll (scrolling up pauses follow)
        PgUp PgDn      page            g  Home   start of the log
        G  End         end of the log, follow on
        f              follow on / off w         wrap on / off
        /              search the log; n / N next / previous hit
        x              cancel this run (y to confirm)
        r              re-run this test dir on this machine
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
