using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>
/// What every full-screen view of the app shares: a message line, a refresh on a timer (stopped when the view goes),
/// keys handled whichever of its views has focus, a one-key confirmation ("y to confirm, any other key: no"), and engine
/// actions run off the UI thread with a message while they are in flight.
/// </summary>
public abstract class ScreenWindow : Window
{
    private object? _timer;
    private Func<Task>? _confirm;
    private string _declined = "";

    protected ScreenWindow(IApplication app)
    {
        Host = app;
        KeyDown += OnKey;
    }

    protected IApplication Host { get; }

    /// <summary>The one-line message at the bottom (over the status bar).</summary>
    protected PlainLabel Message { get; } = new() { X = 0, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Height = 1 };

    /// <summary>Whether the view has gone (its refresh stopped): late results are dropped.</summary>
    protected bool Closed { get; private set; }

    /// <summary>The view's own keys; true when it handled the key.</summary>
    protected abstract bool HandleKey(Key key);

    /// <summary>Routes the keys of <paramref name="views"/> (lists, logs) to <see cref="HandleKey"/> too.</summary>
    protected void HandleKeysOf(params View[] views)
    {
        foreach (View view in views)
        {
            view.KeyDown += OnKey;
        }
    }

    protected void StartRefreshing(TimeSpan every, Action refresh)
    {
        refresh();
        _timer = Host.AddTimeout(every, () =>
        {
            refresh();
            return true;
        });
    }

    /// <summary>For tests and shutdown: stop the periodic refresh; nothing more is shown.</summary>
    public void StopRefreshing()
    {
        Closed = true;
        if (_timer is not null)
        {
            Host.RemoveTimeout(_timer);
            _timer = null;
        }
    }

    protected void Say(string text) => Message.Text = text.ReplaceLineEndings(" ");

    /// <summary>Asks <paramref name="question"/>; <c>y</c> runs <paramref name="yes"/>, any other key says <paramref name="declined"/>.</summary>
    protected void Confirm(string question, string declined, Func<Task> yes)
    {
        Say(question);
        _declined = declined;
        _confirm = yes;
    }

    /// <summary>Runs an engine action in the background with a message while it is in flight, then says its result.</summary>
    protected Task Act(string inFlight, Func<Task<string>> action, Action? after = null)
    {
        Say(inFlight);
        return EngineAction.Run(Host, action, result =>
        {
            if (!Closed)
            {
                Say(result);
                after?.Invoke();
            }
        });
    }

    private void OnKey(object? sender, Key key)
    {
        if (key.Handled)
        {
            return;
        }
        if (_confirm is { } confirmed)
        {
            _confirm = null;
            if (key == new Key('y') || key == new Key('Y'))
            {
                _ = confirmed();
            }
            else
            {
                Say(_declined);
            }
            key.Handled = true;
            return;
        }
        key.Handled = HandleKey(key);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            StopRefreshing();
        }
        base.Dispose(disposing);
    }
}
