using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using TestDispatch.Engine;
using TestDispatch.Engine.Logs;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// 'S' on the Runs tab: a search of every log in history (<see cref="Lab.SearchLogs"/>, as <c>testdispatch grep</c>), newest
/// run first, among the runs the tab's filter lets through (a machine drilled into, the text typed after '/'). Type a pattern (a regex; all lower case ignores case), Enter searches; hits fill the list as they are found, up
/// to <see cref="MostHits"/>; Enter on a hit opens its run's view at its line. '/' types another pattern; Esc or q goes back.
/// </summary>
public sealed class SearchWindow : ScreenWindow
{
    public const int MostHits = 1000;

    private static readonly System.Buffers.SearchValues<char> RegexSyntax = System.Buffers.SearchValues.Create(@"\^$.|?*+()[]{}");

    private readonly Lab _lab;
    private readonly Action<string, long, string> _openAt;
    private readonly RunFilter _filter;
    private readonly string _among;
    private readonly PlainLabel _label;
    private readonly TextField _pattern;
    private readonly ListGrid _hits;
    private CancellationTokenSource? _search;

    /// <param name="openAt">Opens a run's view at a byte offset of its log, with a text to mark there.</param>
    /// <param name="filter">The runs whose logs are searched (its limit is ignored: every matching run is).</param>
    public SearchWindow(IApplication app, Lab lab, Theme theme, Action<string, long, string> openAt, RunFilter? filter = null) : base(app)
    {
        _lab = lab;
        _openAt = openAt;
        _filter = (filter ?? RunFilter.All) with { Limit = null };
        _among = Among(_filter);
        _label = new PlainLabel { X = 0, Y = 0, Text = $"search {_among}:" };
        _pattern = new TextField { X = _label.Text.Length + 1, Y = 0, Width = Dim.Fill() };
        Title = $"Search {_among}";
        _hits = new ListGrid(theme) { X = 0, Y = 1, Width = Dim.Fill(), Height = Dim.Fill(2) };
        StatusBar keys = new([
            new Shortcut(Key.Enter, "search / open", null),
            new Shortcut(new Key('/'), "new pattern", null),
            new Shortcut(Key.Esc, "back", null),
        ]);
        Add(_label, _pattern, _hits, Message, keys);
        HandleKeysOf(_hits);
        _pattern.KeyDown += (_, key) => key.Handled = key.Handled || HandlePatternKey(key);
        _hits.Accepting += (_, e) =>
        {
            e.Handled = true;
            Open();
        };
        Say($"type a regular expression (all lower case: any case), Enter searches {_among}, newest first");
        _pattern.SetFocus();
    }

    /// <summary>Which logs a filter searches, in words: "every log", "the logs of local-1 matching 'net'".</summary>
    private static string Among(RunFilter filter) => (filter.Machine, filter.Text) switch
    {
        (null, null or "") => "every log",
        ({ } machine, null or "") => $"the logs of {TerminalText.ForScreen(machine)}",
        (null, { } text) => $"the logs of runs matching '{TerminalText.ForScreen(text)}'",
        ({ } machine, { } text) => $"the logs of {TerminalText.ForScreen(machine)} matching '{TerminalText.ForScreen(text)}'",
    };

    private bool HandlePatternKey(Key key)
    {
        if (key == Key.Esc)
        {
            Host.RequestStop();
            return true;
        }
        if (key != Key.Enter)
        {
            return false;
        }
        Start(_pattern.Text);
        _hits.SetFocus();
        return true;
    }

    private void Start(string pattern)
    {
        _search?.Cancel();
        if (pattern.Length == 0)
        {
            return;
        }
        CancellationTokenSource cancel = _search = new CancellationTokenSource();
        _hits.Source = new Hits([], pattern);
        LogSearchOptions options = new(IgnoreCase: !pattern.Any(char.IsUpper), MaxLineBytes: 512);
        Say($"searching {_among} for '{pattern}'…");
        _ = EngineAction.Run(Host, () => Task.Run(() =>
        {
            List<RunLogHit> found = [];
            long shown = Environment.TickCount64;
            foreach (RunLogHit hit in _lab.SearchLogs(pattern, options, _filter, cancellationToken: cancel.Token).Take(MostHits))
            {
                found.Add(hit);
                if (Environment.TickCount64 - shown > 200)
                {
                    shown = Environment.TickCount64;
                    Show(found, pattern, cancel.Token);
                }
            }
            Show(found, pattern, cancel.Token);
            return found.Count switch
            {
                0 => _among == "every log" ? $"no log holds '{pattern}'" : $"none of {_among} holds '{pattern}'",
                MostHits => $"the first {MostHits} hits, newest run first: a narrower pattern finds older ones",
                1 => "1 hit, in run " + found[0].Run + "; Enter opens it at its line",
                _ => $"{found.Count} hits in {found.Select(h => h.Run).Distinct().Count()} runs, newest first; Enter opens one at its line",
            };
        }, cancel.Token), result =>
        {
            if (!Closed && !cancel.IsCancellationRequested)
            {
                Say(result);
            }
        });
    }

    private void Show(List<RunLogHit> found, string pattern, CancellationToken cancellationToken)
    {
        Hits hits = new([.. found], pattern);
        Host.Invoke(() =>
        {
            if (!Closed && !cancellationToken.IsCancellationRequested)
            {
                _hits.Source = hits;
            }
        });
    }

    private void Open()
    {
        if (_hits.Source is Hits hits && _hits.SelectedRow >= 0)
        {
            RunLogHit hit = hits.Found[_hits.SelectedRow];
            // The run view marks a plain text; a regex's syntax would mark nothing.
            _openAt(hit.Run, hit.Offset, hits.Pattern.AsSpan().IndexOfAny(RegexSyntax) < 0 ? hits.Pattern : "");
        }
    }

    protected override bool HandleKey(Key key)
    {
        switch (key)
        {
            case var k when k == Key.Esc || k == new Key('q') || k == Key.C.WithCtrl:
                Host.RequestStop();
                return true;
            case var k when k == new Key('/') || k == new Key('S'):
                _pattern.SetFocus();
                return true;
            case var k when k == new Key('l'):
                Open();
                return true;
            default:
                return false;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _search?.Cancel();
        }
        base.Dispose(disposing);
    }

    /// <summary>The hits found so far: run, machine, status (coloured), ended, line number and the line made safe.</summary>
    private sealed class Hits(RunLogHit[] found, string pattern) : GridSource
    {
        private static readonly GridColumn[] Layout =
        [
            new("RUN", 12, 12), new("MACHINE", 5, 16, Cut.KeepBoth, Priority: 2), new("STATUS", 6, 11, Cut.KeepWord, Priority: 3),
            new("ENDED", 8, 12, Priority: 4), new("LINE", 4, 9, Priority: 1), new("TEXT", 10, int.MaxValue),
        ];

        public RunLogHit[] Found => found;

        public string Pattern => pattern;

        public override IReadOnlyList<GridColumn> Columns => Layout;

        public override int Rows => found.Length;

        public override int StatusColumn => 2;

        public override RunStatus? Status(int row) => found[row].Status;

        public override string Key(int row) => $"{found[row].Run}:{found[row].Offset}";

        public override string Cell(int row, int column)
        {
            RunLogHit hit = found[row];
            return column switch
            {
                0 => hit.Run,
                1 => hit.Machine,
                2 => hit.Status.ToWord(),
                3 => Format.When(hit.EndedAt, DateTimeOffset.Now),
                4 => hit.LineNo?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-",
                _ => hit.Kind == LogHitKind.BinaryFile ? "Binary file matches" : TerminalText.ForScreen(hit.Text ?? ""),
            };
        }
    }
}
