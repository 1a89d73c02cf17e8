using System.Runtime.InteropServices;
using TestDispatch.Engine;
using Terminal.Gui.App;

namespace TestDispatch.Tui.App;

/// <summary>
/// Starts the full-screen app on this terminal. Runs are never touched by quitting: they live in the
/// agent. SIGHUP (the SSH session went away) and SIGTERM stop the app cleanly, restoring the terminal.
/// </summary>
public static class TuiApp
{
    public static int Run(Lab lab)
    {
        using IApplication app = Application.Create();
        app.Init();
        using MainWindow window = new(app, lab, Theme.FromEnvironment());
        using PosixSignalRegistration hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Stop);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        app.Run(window);
        window.StopRefreshing();
        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            app.Invoke(() => app.RequestStop());
        }
    }
}
