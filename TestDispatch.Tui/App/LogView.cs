using System.Text;
using Terminal.Gui.App;
using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;
using TestDispatch.Engine.Logs;
using TestDispatch.Tui.Text;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace TestDispatch.Tui.App;

/// <summary>
/// A run's log, drawn from a <see cref="LogPager"/>: only the lines on screen are ever read, so a log of
/// gigabytes opens at once and costs little memory (TextView would load it whole: docs/TUI.md).
/// Follows the tail while following; reading and searching happen off the UI thread.
/// </summary>
public sealed class LogView : View
{
    private readonly IApplication _app;
    private readonly LogPager _pager;
    private readonly Lock _gate = new();
    private IReadOnlyList<LogLine> _lines = [];
    private long _top;
    private long _length;
    private int _generation;
    private CancellationTokenSource? _search;

    public LogView(IApplication app, LogPager pager)
    {
        _app = app;
        _pager = pager;
        CanFocus = true;
    }

    public bool Follow { get; private set; } = true;

    /// <summary>The run has ended: there is nothing more to follow, and the strip says so instead of "follow ON".</summary>
    public bool Ended
    {
        get;
        set
        {
            if (field != value)
            {
                field = value;
                StateChanged?.Invoke();
            }
        }
    }

    public bool Wrap { get; private set; }

    public string SearchText { get; private set; } = "";

    public long Length => _length;

    /// <summary>Shown in the status strip: what the view is doing now.</summary>
    public event Action? StateChanged;

    /// <summary>Re-reads what is on screen (the tail when following). Cheap: one screenful of bytes.</summary>
    public void Refresh() => Load(follow: Follow, top: _top);

    public void SetFollow(bool on)
    {
        Follow = on;
        StateChanged?.Invoke();
        Refresh();
    }

    public void ToggleWrap()
    {
        Wrap = !Wrap;
        StateChanged?.Invoke();
        Refresh();
    }

    public void ScrollLines(int delta)
    {
        long top = _top;
        Follow = false;
        StateChanged?.Invoke();
        Background(() => Page(delta < 0
            ? _pager.LineStartBefore(top, -delta)
            : _pager.ReadLines(top, delta + 1) is { Count: > 0 } below ? below[Math.Min(delta, below.Count - 1)].Offset : top));
    }

    public void Home()
    {
        Follow = false;
        StateChanged?.Invoke();
        Background(() => Page(0));
    }

    /// <summary>Shows the log from the line at <paramref name="offset"/> (a search hit), follow off, <paramref name="mark"/> marked.</summary>
    public void ShowAt(long offset, string mark)
    {
        Follow = false;
        SearchText = mark;
        _top = offset; // a refresh before the page comes reads from here, not from the start
        StateChanged?.Invoke();
        Background(() => Page(offset));
    }

    /// <summary>
    /// Finds the next (or previous) line holding <paramref name="text"/>, after the top line or from <paramref name="from"/>'s line on,
    /// and shows it at the top; when there is none, <paramref name="notFound"/> runs (by default: a message says so).
    /// </summary>
    public void Search(string text, bool forward, long? from = null, Action? notFound = null)
    {
        SearchText = text;
        if (text.Length == 0)
        {
            SetNeedsDraw();
            return;
        }
        Follow = false;
        _search?.Cancel();
        CancellationTokenSource cancel = _search = new CancellationTokenSource();
        long start = from ?? _top;
        StateChanged?.Invoke();
        Background(() =>
        {
            long? hit = _pager.Find(text, start, forward, fromItsLine: from is not null, cancellationToken: cancel.Token);
            return hit is { } offset ? Page(offset) : null;
        }, notFound: notFound ?? (() => Message?.Invoke($"'{text}' not found {(forward ? "below" : "above")}")));
    }

    /// <summary>Tells the run view something worth a line on its message strip.</summary>
    public event Action<string>? Message;

    protected override bool OnDrawingContent(DrawContext? context)
    {
        int width = Viewport.Width;
        int height = Viewport.Height;
        Attribute normal = GetAttributeForRole(VisualRole.Normal);
        Attribute hit = new(normal.Background, normal.Foreground);
        int row = 0;
        foreach (LogLine line in _lines)
        {
            // The log's bytes never reach the terminal as they are: see TerminalText.ForScreen.
            foreach (string piece in TerminalText.Pieces(TerminalText.ForScreen(line.Text), width, Wrap))
            {
                if (row >= height)
                {
                    return true;
                }
                Move(0, row);
                DrawHighlighted(TerminalText.PadRight(piece, width), normal, hit);
                row++;
            }
        }
        if (row < height && _lines is [.., var last] && last.NextOffset < _length)
        {
            Refresh(); // a page read before the first layout (or a resize) holds too few lines for the screen
        }
        SetAttribute(normal);
        for (; row < height; row++)
        {
            Move(0, row);
            AddStr(new string(' ', width));
        }
        return true;
    }

    private void DrawHighlighted(string text, Attribute normal, Attribute hit)
    {
        if (SearchText.Length == 0)
        {
            SetAttribute(normal);
            AddStr(text);
            return;
        }
        int at = 0;
        while (at < text.Length)
        {
            int found = text.IndexOf(SearchText, at, StringComparison.OrdinalIgnoreCase);
            int end = found < 0 ? text.Length : found;
            SetAttribute(normal);
            AddStr(text[at..end]);
            if (found < 0)
            {
                break;
            }
            SetAttribute(hit);
            AddStr(text.Substring(found, SearchText.Length));
            at = found + SearchText.Length;
        }
    }

    private void Load(bool follow, long top)
    {
        int height = Math.Max(1, Viewport.Height);
        Background(() => follow ? Page(_pager.TailStart(height)) : Page(top));
    }

    private (long Top, IReadOnlyList<LogLine> Lines, long Length) Page(long top) =>
        (top, _pager.ReadLines(top, Math.Max(1, Viewport.Height)), _pager.Length);

    /// <summary>Reads on the thread pool; applies on the UI thread unless a newer read was asked for meanwhile.</summary>
    private void Background(Func<(long Top, IReadOnlyList<LogLine> Lines, long Length)?> read, Action? notFound = null)
    {
        int generation = Interlocked.Increment(ref _generation);
        _ = Task.Run(() =>
        {
            (long, IReadOnlyList<LogLine>, long)? page;
            lock (_gate)
            {
                try
                {
                    page = read();
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            _app.Invoke(() =>
            {
                if (generation != _generation)
                {
                    return;
                }
                if (page is not { } p)
                {
                    notFound?.Invoke();
                    return;
                }
                (_top, _lines, _length) = p;
                SetNeedsDraw();
                StateChanged?.Invoke();
            });
        });
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _search?.Cancel();
            _search?.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>Human size: "812 B", "3.4 MB", "1.2 GB".</summary>
    public static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.##} GB",
    };

    internal static string Describe(LogView view)
    {
        StringBuilder text = new();
        text.Append(view.Ended ? "run ended" : view.Follow ? "follow ON" : "follow off (G: on)");
        text.Append(view.Wrap ? "  wrap ON" : "  wrap off");
        if (view.SearchText.Length > 0)
        {
            text.Append($"  search: {view.SearchText} (n/N)");
        }
        text.Append($"  {Size(view.Length)}");
        return text.ToString();
    }
}
