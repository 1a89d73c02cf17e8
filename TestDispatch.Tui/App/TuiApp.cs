using System.Runtime.InteropServices;
using Terminal.Gui.App;
using Terminal.Gui.Input;
using TestDispatch.Engine;

namespace TestDispatch.Tui.App;

/// <summary>
/// Starts the full-screen app on this terminal. Runs are never touched by quitting: they live in the
/// agent. SIGHUP (the SSH session went away) and SIGTERM/SIGINT (arriving as the cancellation token
/// from the command line layer) stop the app cleanly, restoring the terminal when there still is one.
/// </summary>
public static class TuiApp
{
    public static int Run(Lab lab, CancellationToken cancellationToken = default)
    {
        IApplication app = Application.Create();
        app.Init();
        // Leave the mouse to the terminal: engineers select run ids and log lines with it (lazygit#602).
        app.Mouse.IsMouseDisabled = true;
        // Ctrl+L repaints the whole screen, as in less and vim: views write only what changed, so whatever else
        // wrote to the terminal (a wall message, a stray child) stays until then.
        app.Keyboard.KeyDown += (_, key) =>
        {
            if (key == Key.L.WithCtrl)
            {
                key.Handled = true;
                app.LayoutAndDraw(forceRedraw: true);
            }
        };
        using CancellationTokenSource closing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bool hungUp = false;
        using PosixSignalRegistration hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            hungUp = true;
            closing.Cancel();
        });
        MainWindow window = new(app, lab, Theme.FromEnvironment(), closing.Token);
        // Signals arrive on other threads: the UI thread stops view after view (a run view or dialog on
        // top first, then the main window), the same way 'q' and Esc do.
        app.AddTimeout(TimeSpan.FromMilliseconds(100), () =>
        {
            if (closing.IsCancellationRequested)
            {
                app.RequestStop();
            }
            return true;
        });
        app.Run(window);
        window.StopRefreshing();
        window.Dispose();
        // The terminal is gone (SIGHUP): there is nothing to restore, and Terminal.Gui 2.5's input thread spins on the
        // hung-up tty, so disposing the app would wait for it forever. The main loop may also end on the hang-up before the
        // signal is handled, so a dispose that does not finish soon is taken to mean the same. Everything we own is saved.
        if (hungUp || !Task.Run(app.Dispose, CancellationToken.None).Wait(DisposeWithin, CancellationToken.None))
        {
            Environment.Exit(128 + 1);
        }
        return 0;
    }

    /// <summary>How long restoring the terminal may take before the app takes it to be gone.</summary>
    private static readonly TimeSpan DisposeWithin = TimeSpan.FromSeconds(3);
}
