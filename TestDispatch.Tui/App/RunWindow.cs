using TestDispatch.Engine;
using TestDispatch.Engine.Logs;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Cli;
using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>
/// One run: its fields on top, its live log below (following the tail while it runs), a strip saying
/// follow/wrap/search, and the keys. Refreshes itself from the store; Esc or q goes back.
/// </summary>
public sealed class RunWindow : Window
{
    private readonly IApplication _app;
    private readonly Lab _lab;
    private readonly Theme _theme;
    private readonly string _runId;
    private readonly PlainLabel _fields = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 4 };
    private readonly LogView _log;
    private readonly PlainLabel _strip = new() { X = 0, Y = Pos.AnchorEnd(3), Width = Dim.Fill(), Height = 1 };
    private readonly PlainLabel _message = new() { X = 0, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Height = 1 };
    private readonly PlainLabel _searchLabel = new() { X = 0, Y = Pos.AnchorEnd(2), Text = "search /", Visible = false };
    private readonly TextField _search = new() { X = 9, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Visible = false };
    private readonly LogPager _pager;
    private object? _timer;
    private Run? _run;
    private bool _confirmCancel;

    public RunWindow(IApplication app, Lab lab, Theme theme, string runId)
    {
        _app = app;
        _lab = lab;
        _theme = theme;
        _runId = runId;
        Title = $"Run {runId}";
        _pager = new LogPager(lab.FileSystem, lab.Store.Paths.Log(runId));
        _log = new LogView(app, _pager) { X = 0, Y = 5, Width = Dim.Fill(), Height = Dim.Fill(3) };
        _log.StateChanged += () => _strip.Text = LogView.Describe(_log);
        _log.Message += text => _message.Text = text;
        StatusBar keys = new([
            new Shortcut(new Key('f'), "follow", null),
            new Shortcut(new Key('w'), "wrap", null),
            new Shortcut(new Key('/'), "search", null),
            new Shortcut(new Key('x'), "cancel", null),
            new Shortcut(new Key('r'), "re-run", null),
            new Shortcut(new Key('?'), "help", null),
            new Shortcut(Key.Esc, "back", null),
        ]);
        Add(_fields, new Line { X = 0, Y = 4, Width = Dim.Fill() }, _log, _strip, _message, _searchLabel, _search, keys);
        _log.KeyDown += (_, key) => key.Handled = key.Handled || HandleKey(key);
        KeyDown += (_, key) => key.Handled = key.Handled || HandleKey(key);
        _search.KeyDown += (_, key) => key.Handled = key.Handled || HandleSearchKey(key);

        _log.SetFocus();
        Tick();
        _timer = app.AddTimeout(TimeSpan.FromMilliseconds(250), () =>
        {
            Tick();
            return true;
        });
    }

    public void StopRefreshing()
    {
        if (_timer is not null)
        {
            _app.RemoveTimeout(_timer);
            _timer = null;
        }
    }

    private void Tick()
    {
        _ = Task.Run(async () =>
        {
            Run? run = null;
            try
            {
                run = _lab.Store.Get(_runId).Run;
                if (!run.Status.IsTerminal())
                {
                    await _lab.KeepAgentAsync(); // its end is recorded only by an agent following it
                }
            }
            catch (DispatchException)
            {
            }
            _app.Invoke(() =>
            {
                if (run is not null)
                {
                    _run = run;
                    _fields.Text = Describe(run);
                }
                if (_log.Follow || _pager.Length != _log.Length)
                {
                    _log.Refresh();
                }
            });
        });
    }

    private string Describe(Run run)
    {
        string ended = run.ErrorMsg.Length > 0 ? $"  {run.ErrorCode}: {run.ErrorMsg}" : "";
        return $"""
            {Format.Status(run).ToUpperInvariant()}  exit {Format.Exit(run)}  on {run.Machine}  {Format.Duration(run)}{(Format.Batch(run) is { Length: > 0 } b ? "  batch " + b : "")}
            test      {run.TestDir}
            started   {Format.Time(run.StartedAt)}   ended {Format.Time(run.EndedAt)}{ended}
            artifacts {run.ArtifactsPath}
            """;
    }

    private bool HandleKey(Key key)
    {
        if (_confirmCancel)
        {
            _confirmCancel = false;
            if (key == new Key('y') || key == new Key('Y'))
            {
                Act("cancelling…", async () => $"run {(await _lab.CancelAsync(_runId)).Id}: stopping");
            }
            else
            {
                _message.Text = "not cancelled";
            }
            return true;
        }
        switch (key)
        {
            case var k when k == Key.Esc || k == new Key('q'):
                _app.RequestStop();
                return true;
            case var k when k == Key.C.WithCtrl:
                _app.RequestStop();
                return true;
            case var k when k == Key.CursorUp || k == new Key('k'):
                _log.ScrollLines(-1);
                return true;
            case var k when k == Key.CursorDown || k == new Key('j'):
                _log.ScrollLines(1);
                return true;
            case var k when k == Key.PageUp:
                _log.ScrollLines(-Math.Max(1, _log.Viewport.Height - 1));
                return true;
            case var k when k == Key.PageDown || k == Key.Space:
                _log.ScrollLines(Math.Max(1, _log.Viewport.Height - 1));
                return true;
            case var k when k == new Key('g') || k == Key.Home:
                _log.Home();
                return true;
            case var k when k == new Key('G') || k == Key.End:
                _log.SetFollow(true);
                return true;
            case var k when k == new Key('f'):
                _log.SetFollow(!_log.Follow);
                return true;
            case var k when k == new Key('w'):
                _log.ToggleWrap();
                return true;
            case var k when k == new Key('/'):
                _search.Text = _log.SearchText;
                _search.Visible = _searchLabel.Visible = true;
                _message.Visible = false;
                _search.SetFocus();
                return true;
            case var k when k == new Key('n'):
                _log.Search(_log.SearchText, forward: true);
                return true;
            case var k when k == new Key('N'):
                _log.Search(_log.SearchText, forward: false);
                return true;
            case var k when k == new Key('x'):
                if (_run is { } run && !run.Status.IsTerminal())
                {
                    _confirmCancel = true;
                    _message.Text = $"Cancel run {run.Id}? y to confirm, any other key to keep it";
                }
                else
                {
                    _message.Text = "this run has already ended";
                }
                return true;
            case var k when k == new Key('r'):
                Act("re-running…", async () =>
                {
                    PrepareOutcome outcome = await _lab.RedispatchAsync(_runId);
                    return outcome.Kind == PrepareKind.Busy
                        ? $"machine_busy: busy with run {outcome.Run.Id}"
                        : $"{(outcome.Kind == PrepareKind.Reused ? "already running as" : "dispatched")} run {outcome.Run.Id} (see Runs)";
                });
                return true;
            case var k when k == new Key('?'):
                HelpWindow.Show(_app, HelpWindow.RunKeys);
                return true;
            default:
                return false;
        }
    }

    private bool HandleSearchKey(Key key)
    {
        if (key != Key.Enter && key != Key.Esc)
        {
            return false;
        }
        _search.Visible = _searchLabel.Visible = false;
        _message.Visible = true;
        _log.SetFocus();
        if (key == Key.Enter)
        {
            _log.Search(_search.Text, forward: true);
        }
        return true;
    }

    private void Act(string inFlight, Func<Task<string>> action)
    {
        _message.Text = inFlight;
        _ = EngineAction.Run(_app, action, result => _message.Text = result);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            StopRefreshing();
            _pager.Dispose();
        }
        base.Dispose(disposing);
    }
}
