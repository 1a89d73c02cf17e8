using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Logs;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// One run: its fields on top, its live log below (following the tail while it runs), a strip saying
/// follow/wrap/search, and the keys; <c>t</c> shows its test cases instead of the log (failures first, new ones marked;
/// Enter says one's message and shows the log where it has it); D opens its diff against the last pass. Refreshes itself from the store; Esc or q goes back.
/// </summary>
public sealed class RunWindow : ScreenWindow
{
    private readonly Lab _lab;
    private readonly string _runId;
    private readonly PlainLabel _fields = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 4 };
    private readonly LogView _log;
    private readonly PlainLabel _strip = new() { X = 0, Y = Pos.AnchorEnd(3), Width = Dim.Fill(), Height = 1 };
    private readonly PlainLabel _searchLabel = new() { X = 0, Y = Pos.AnchorEnd(2), Text = "search /", Visible = false };
    private readonly TextField _search = new() { X = 9, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Visible = false };
    private readonly LogPager _pager;
    private readonly ListView _tests = new() { X = 0, Y = 5, Width = Dim.Fill(), Height = Dim.Fill(3), Visible = false };
    private IReadOnlyList<CaseResult> _cases = [];
    private Run? _run;

    /// <param name="at">Where to open the log instead of its tail (a search hit): a line's byte offset, and a text to mark.</param>
    public RunWindow(IApplication app, Lab lab, string runId, (long Offset, string Mark)? at = null) : base(app)
    {
        _lab = lab;
        _runId = runId;
        Title = $"Run {runId}";
        _pager = lab.OpenLog(runId);
        _log = new LogView(app, _pager) { X = 0, Y = 5, Width = Dim.Fill(), Height = Dim.Fill(3) };
        _log.StateChanged += () => _strip.Text = LogView.Describe(_log);
        _log.Message += Say;
        StatusBar keys = new([
            new Shortcut(new Key('f'), "follow", null),
            new Shortcut(new Key('w'), "wrap", null),
            new Shortcut(new Key('/'), "search", null),
            new Shortcut(new Key('t'), "tests", null),
            new Shortcut(new Key('x'), "cancel", null),
            new Shortcut(new Key('r'), "re-run", null),
            new Shortcut(new Key('D'), "diff", null),
            new Shortcut(new Key('?'), "help", null),
            new Shortcut(Key.Esc, "back", null),
        ]);
        Add(_fields, new Line { X = 0, Y = 4, Width = Dim.Fill() }, _log, _tests, _strip, Message, _searchLabel, _search, keys);
        HandleKeysOf(_log, _tests);
        _search.KeyDown += (_, key) => key.Handled = key.Handled || HandleSearchKey(key);

        _log.SetFocus();
        if (at is { } place)
        {
            _log.ShowAt(place.Offset, place.Mark);
        }
        StartRefreshing(TimeSpan.FromMilliseconds(250), Tick);
    }

    private void Tick()
    {
        _ = Task.Run(async () =>
        {
            Run? run = null;
            try
            {
                run = _lab.Show(_runId);
                if (!run.Status.IsTerminal())
                {
                    await _lab.KeepAgentAsync(); // its end is recorded only by an agent following it
                }
            }
            catch (DispatchException)
            {
            }
            Host.Invoke(() =>
            {
                if (run is not null)
                {
                    bool ended = run.Status.IsTerminal() && _run is { } before && !before.Status.IsTerminal();
                    _run = run;
                    _fields.Text = Describe(run);
                    _log.Ended = run.Status.IsTerminal();
                    if (ended)
                    {
                        // Whatever the message said while it ran ("stopping" after a cancel) is over: say how it ended.
                        Say($"run {run.Id} ended {Format.Status(run)}, exit {Format.Exit(run)}");
                    }
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
        // Names and messages from outside are one line each and steer nothing (TerminalText.Escape).
        string ended = run.ErrorMsg.Length > 0 ? $"  {run.ErrorCode}: {TerminalText.Escape(run.ErrorMsg)}" : "";
        return $"""
            {Format.Status(run).ToUpperInvariant()}  exit {Format.Exit(run)}  on {run.Machine}  {Format.Duration(run)}{(Format.Batch(run) is { Length: > 0 } b ? "  batch " + b : "")}
            test      {TerminalText.Escape(run.TestDir)}
            started   {Format.Time(run.StartedAt)}   ended {Format.Time(run.EndedAt)}{ended}
            {(run.Tests is { } tests ? $"tests     {Format.Tests(tests)}{(run.ResultsError is null ? "" : "  (a report could not be read: t)")}" : $"artifacts {TerminalText.Escape(run.ArtifactsPath)}")}
            """;
    }

    /// <summary>Shows the run's test cases instead of its log, or the log again.</summary>
    private void ToggleTests()
    {
        if (_tests.Visible)
        {
            _tests.Visible = false;
            _log.Visible = true;
            _log.SetFocus();
            _log.Refresh();
            SetNeedsDraw();
            return;
        }
        RunTests results;
        IReadOnlyList<CaseResult> cases;
        try
        {
            results = _lab.Tests(_runId);
            cases = [.. results.Cases];
        }
        catch (DispatchException e)
        {
            Say($"{e.ErrorCode}: {e.Message}");
            return;
        }
        if (cases.Count == 0)
        {
            Say(results.ResultsError is { } broken ? $"results_error: {broken}" : "this run left no test results (no JUnit XML in its artifacts)");
            return;
        }
        _cases = cases;
        _log.Visible = false;
        _tests.Visible = true;
        _tests.SetFocus();
        ShowCases(0);
        Say($"{Format.Tests(results.Tests!)}{(results.ResultsError is { } error ? $"; results_error: {error}" : "")}  Enter: a case's message (and where the log has it), t: the log");
    }

    /// <summary>The list of cases, <paramref name="selected"/> selected.</summary>
    private void ShowCases(int selected)
    {
        Show(CaseLines(_cases), selected);
    }

    private void Show(IEnumerable<string> lines, int selected)
    {
        _tests.SetSource(new System.Collections.ObjectModel.ObservableCollection<string>(lines));
        _tests.SelectedItem = selected;
        _tests.EnsureSelectedItemVisible();
        _tests.SetNeedsDraw();
    }

    /// <summary>One aligned line per case: status (with its new and flaky marks), seconds, full name, message's first line.</summary>
    private static IEnumerable<string> CaseLines(IReadOnlyList<CaseResult> cases)
    {
        TextTable table = new("STATUS", "TIME_S", "CASE", "MESSAGE");
        foreach (CaseResult c in cases)
        {
            table.Add(Format.Status(c), Format.Seconds(c.TimeS), c.FullName, c.Message.Split('\n', 2)[0]);
        }
        using StringWriter text = new();
        table.WriteTo(text);
        return text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(TerminalText.ForScreen);
    }

    /// <summary>The keys of the test cases list: Enter says a case's message, Esc or t goes back to the log; the list moves itself.</summary>
    private bool HandleTestsKey(Key key)
    {
        switch (key)
        {
            case var k when k == new Key('t'):
                ToggleTests();
                return true;
            case var k when k == Key.Esc || k == new Key('q'):
                ToggleTests();
                return true;
            case var k when k == Key.Enter || k == new Key('l'):
                if (_tests.SelectedItem is int row && row >= 0 && row < _cases.Count)
                {
                    ShowCase(_cases[row]);
                }
                return true;
            case var k when k == new Key('j'):
                _tests.MoveDown();
                return true;
            case var k when k == new Key('k'):
                _tests.MoveUp();
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Says the case's message (its whole text is in 'testdispatch show ID --tests'); for a failure whose message the log
    /// holds, shows the log from its first line holding it, marked; t goes back to the cases.
    /// </summary>
    private void ShowCase(CaseResult testCase)
    {
        string said = $"{testCase.FullName}: {(testCase.Message.Length > 0 ? testCase.Message : testCase.Status.Word())}";
        Say(said);
        string firstLine = testCase.Message.Split('\n', 2)[0].Trim();
        if (!CaseHistory.IsFailure(testCase.Status) || firstLine.Length == 0)
        {
            return;
        }
        _tests.Visible = false;
        _log.Visible = true;
        _log.SetFocus();
        _log.Search(firstLine, forward: true, from: 0, notFound: () =>
        {
            _log.Visible = false;
            _tests.Visible = true;
            _tests.SetFocus();
            Say($"{said} (not in the log)");
        });
    }

    protected override bool HandleKey(Key key)
    {
        if (_tests.Visible && !_search.HasFocus)
        {
            if (HandleTestsKey(key))
            {
                return true;
            }
            if (key == Key.CursorUp || key == Key.CursorDown || key == Key.PageUp || key == Key.PageDown || key == Key.Home || key == Key.End)
            {
                return false; // the list moves itself
            }
        }
        switch (key)
        {
            case var k when k == new Key('t'):
                ToggleTests();
                return true;
            case var k when k == Key.Esc || k == new Key('q'):
                Host.RequestStop();
                return true;
            case var k when k == Key.C.WithCtrl:
                Host.RequestStop();
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
                Message.Visible = false;
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
                    Confirm($"Cancel run {run.Id}? y to confirm, any other key to keep it", "not cancelled",
                        () => Act("cancelling…", async () => await _lab.CancelAsync(_runId) is var after && after.Status.IsTerminal()
                            ? $"run {after.Id} ended {Format.Status(after)}"
                            : $"run {after.Id}: stopping"));
                }
                else
                {
                    Say("this run has already ended");
                }
                return true;
            case var k when k == new Key('r'):
                _ = Act("re-running…", async () =>
                {
                    PrepareOutcome outcome = await _lab.RedispatchAsync(_runId);
                    return outcome.Kind == PrepareKind.Busy
                        ? $"machine_busy: busy with run {outcome.Run.Id}"
                        : $"{(outcome.Kind == PrepareKind.Reused ? "already running as" : "dispatched")} run {outcome.Run.Id} (see Runs)";
                });
                return true;
            case var k when k == new Key('D'):
                using (DiffWindow diff = new(Host, _lab, _runId, Theme.FromEnvironment()))
                {
                    Host.Run(diff);
                }
                return true;
            case var k when k == new Key('?'):
                HelpWindow.Show(Host, HelpWindow.RunKeys);
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
        Message.Visible = true;
        _log.SetFocus();
        if (key == Key.Enter)
        {
            _log.Search(_search.Text, forward: true);
        }
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pager.Dispose();
        }
        base.Dispose(disposing);
    }
}
