using Terminal.Gui.App;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.Testing;

namespace TestDispatch.Tests.Support;

/// <summary>
/// A real Terminal.Gui application on the ANSI driver with no terminal: views are started with Begin
/// (no blocking Run), keys injected, the screen read back as text. Background work reaches the UI
/// through Invoke, so WaitFor keeps running the app's timers until the screen shows it.
/// </summary>
public sealed class HeadlessApp : IDisposable
{
    private readonly List<SessionToken> _sessions = [];

    public HeadlessApp(int width = 120, int height = 30)
    {
        App = Application.Create();
        App.Init(DriverRegistry.Names.ANSI);
        App.Driver!.SetScreenSize(width, height);
    }

    public IApplication App { get; }

    public string Screen => App.Driver!.ToString() ?? "";

    public void Show(IRunnable view)
    {
        _sessions.Add(App.Begin(view)!);
        App.LayoutAndDraw(true);
    }

    public void Press(params Key[] keys)
    {
        foreach (Key key in keys)
        {
            App.InjectKey(key);
            Pump();
        }
    }

    public void Type(string text)
    {
        foreach (char c in text)
        {
            Press(new Key(c));
        }
    }

    /// <summary>Pumps the app until the screen satisfies <paramref name="condition"/>, or fails with the screen.</summary>
    public string WaitFor(Func<string, bool> condition, string what, TimeSpan? within = null)
    {
        DateTime deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            Pump();
            string screen = Screen;
            if (condition(screen))
            {
                return screen;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"screen never showed {what}:\n{screen}");
            }
            Thread.Sleep(20);
        }
    }

    public string WaitFor(string text) => WaitFor(s => s.Contains(text, StringComparison.Ordinal), $"'{text}'");

    private void Pump()
    {
        App.TimedEvents!.RunTimers();
        App.LayoutAndDraw(true);
    }

    public void Dispose()
    {
        for (int i = _sessions.Count - 1; i >= 0; i--)
        {
            App.End(_sessions[i]);
        }
        App.Dispose();
    }
}
