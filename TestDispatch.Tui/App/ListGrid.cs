using System.Drawing;
using System.Globalization;
using System.Text;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.Text;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace TestDispatch.Tui.App;

/// <summary>
/// A list of rows in columns under a header line, with one selected row, as in k9s and htop: the Machines, Runs and
/// Batches tabs and a batch's entries. Keys: arrows, PageUp/PageDown, Home/End and the vi keys j/k/g/G; Enter accepts
/// (<see cref="View.Accepting"/>). The mouse is left to the terminal (see <see cref="TuiApp"/>).
/// <para>
/// A redraw writes only the lines that differ from what the terminal already shows. Terminal.Gui 2.5 costs about a
/// microsecond per character written, so its own TableView spent ~35 ms redrawing a 118x35 table when one run changed;
/// this grid composes each line in a buffer (one character per column), compares it with the driver's
/// <c>Contents</c> and writes only the lines that changed. Comparing with the screen rather than with what it drew
/// last keeps it right after anything else drew over it (a dialog, a resize, another tab).
/// </para>
/// </summary>
public sealed class ListGrid : View
{
    private const int Gap = 1; // a blank column before the first column and between columns

    private readonly Theme _theme;
    private GridSource _source = NoRows.Instance;
    private string? _selectedKey;
    private int _selected = -1;
    private int _top;
    private char[] _line = [];
    private Attribute[] _attributes = [];
    private string[] _cells = [];
    private int[] _widths = [];
    private int[] _floors = [];
    private bool[] _visible = [];

    public ListGrid(Theme theme)
    {
        _theme = theme;
        CanFocus = true;
        AddCommand(Command.Up, () => MoveBy(-1));
        AddCommand(Command.Down, () => MoveBy(1));
        AddCommand(Command.PageUp, () => MoveBy(-PageSize));
        AddCommand(Command.PageDown, () => MoveBy(PageSize));
        AddCommand(Command.Start, () => SelectRow(0));
        AddCommand(Command.End, () => SelectRow(_source.Rows - 1));
        KeyBindings.Add(Key.CursorUp, Command.Up);
        KeyBindings.Add(Key.CursorDown, Command.Down);
        KeyBindings.Add(Key.PageUp, Command.PageUp);
        KeyBindings.Add(Key.PageDown, Command.PageDown);
        KeyBindings.Add(Key.Home, Command.Start);
        KeyBindings.Add(Key.End, Command.End);
        KeyBindings.Add(new Key('k'), Command.Up);
        KeyBindings.Add(new Key('j'), Command.Down);
        KeyBindings.Add(new Key('g'), Command.Start);
        KeyBindings.Add(new Key('G'), Command.End);
    }

    /// <summary>The rows shown. Setting it keeps the selected item (by key) and its place on screen.</summary>
    public GridSource Source
    {
        get => _source;
        set
        {
            _source = value;
            Refresh();
        }
    }

    /// <summary>The selected row, or -1 when there are no rows.</summary>
    public int SelectedRow => _selected;

    /// <summary>The first row on screen.</summary>
    public int TopRow => _top;

    /// <summary>How many lines the last draw wrote: the others showed what they should already (for tests and benchmarks).</summary>
    public int LinesWritten { get; private set; }

    private int PageSize => Math.Max(1, Viewport.Height - 1);

    /// <summary>
    /// The source's rows changed (or it was replaced): the selection follows its item by key. Scrolled to the top, the
    /// view stays at the top, so new rows show above the selection; otherwise the selected row keeps its place on screen.
    /// An item that is not there (filtered out) keeps the row number selected until it comes back.
    /// </summary>
    public void Refresh()
    {
        int was = _selected;
        string? key = _selectedKey;
        int row = key is null ? -1 : _source.RowOf(key);
        if (row >= 0 && was >= 0 && _top > 0)
        {
            _top += row - was;
        }
        SetSelected(row >= 0 ? row : Math.Max(was, 0));
        if (row < 0 && key is not null)
        {
            _selectedKey = key; // filtered out for now: the selection goes back to it when it shows again
        }
    }

    /// <summary>Selects a row (clamped to the rows there are) and scrolls it into view.</summary>
    public bool SelectRow(int row)
    {
        SetSelected(row);
        return true;
    }

    private bool MoveBy(int rows) => SelectRow(Math.Max(_selected, 0) + rows);

    /// <summary>Raised when the selection moves: the Runs tab then asks for its next page as it nears the end.</summary>
    public event Action<int>? SelectionMoved;

    private void SetSelected(int row)
    {
        _selected = _source.Rows == 0 ? -1 : Math.Clamp(row, 0, _source.Rows - 1);
        SelectionMoved?.Invoke(_selected);
        _selectedKey = _selected >= 0 ? _source.Key(_selected) : null;
        KeepSelectionVisible();
        SetNeedsDraw();
    }

    private void KeepSelectionVisible()
    {
        int page = PageSize;
        if (_selected >= 0 && _selected < _top)
        {
            _top = _selected;
        }
        else if (_selected >= _top + page)
        {
            _top = _selected - page + 1;
        }
        _top = Math.Clamp(_top, 0, Math.Max(0, _source.Rows - page));
    }

    // Every line of the viewport is drawn below, so the framework's clear would only double the writes.
    protected override bool OnClearingViewport() => true;

    protected override bool OnDrawingContent(DrawContext? context)
    {
        int width = Viewport.Width;
        int height = Viewport.Height;
        if (width <= 0 || height <= 0)
        {
            return true;
        }
        KeepSelectionVisible();
        IReadOnlyList<GridColumn> columns = _source.Columns;
        int shown = Math.Clamp(_source.Rows - _top, 0, height - 1);
        ReadCells(columns.Count, shown);
        LayOut(columns, shown, width);
        if (_line.Length != width)
        {
            _line = new char[width];
            _attributes = new Attribute[width];
        }

        LinesWritten = 0;
        Attribute normal = GetAttributeForRole(VisualRole.Normal);
        Attribute selected = GetAttributeForRole(HasFocus ? VisualRole.Focus : VisualRole.Active);
        Blank(normal with { Style = normal.Style | TextStyle.Bold });
        for (int c = 0, x = Gap; c < columns.Count; x += Advance(c), c++)
        {
            if (_visible[c])
            {
                Write(x, _widths[c], columns[c].Name, Cut.KeepStart);
            }
        }
        Show(0);

        for (int line = 1; line < height; line++)
        {
            int i = line - 1;
            int row = _top + i;
            Blank(row == _selected ? selected : normal);
            if (i < shown)
            {
                for (int c = 0, x = Gap; c < columns.Count; x += Advance(c), c++)
                {
                    if (!_visible[c])
                    {
                        continue;
                    }
                    Write(x, _widths[c], _cells[(i * columns.Count) + c], columns[c].Cut);
                    if (c == _source.StatusColumn && row != _selected)
                    {
                        Colour(x, _widths[c], _theme.StatusAttribute(_source.Status(row), normal));
                    }
                    if (c == _source.LettersColumn && row != _selected)
                    {
                        for (int k = 0; k < _widths[c]; k++)
                        {
                            if (_source.LetterStatus(row, k) is { } letter)
                            {
                                Colour(x + k, 1, _theme.StatusAttribute(letter, normal));
                            }
                        }
                    }
                }
            }
            Show(line);
        }
        context?.AddDrawnRectangle(ViewportToScreen(new Rectangle(0, 0, width, height)));
        return true;
    }

    private void ReadCells(int columns, int shown)
    {
        if (_cells.Length < columns * shown)
        {
            _cells = new string[columns * shown];
        }
        for (int i = 0; i < shown; i++)
        {
            for (int c = 0; c < columns; c++)
            {
                _cells[(i * columns) + c] = OneCharPerColumn(_source.Cell(_top + i, c));
            }
        }
    }

    /// <summary>Where the next column starts after column <paramref name="c"/>: a hidden column takes no room.</summary>
    private int Advance(int c) => _visible[c] ? _widths[c] + Gap : 0;

    /// <summary>
    /// Each column as wide as its widest text on screen, within its bounds (a <see cref="Cut.KeepWord"/> column never
    /// narrower than its widest first word); the last column shown takes the rest of the line. When the line is too narrow,
    /// the columns of least importance go first, while even their minimums do not fit (the most important one always
    /// stays); then those left give up width down to their minimums, the words after a state's first ones first, then least
    /// important first. So at 40 columns a list shows
    /// fewer columns, each still telling its rows apart, rather than every column cut to a stub.
    /// </summary>
    private void LayOut(IReadOnlyList<GridColumn> columns, int shown, int width)
    {
        int n = columns.Count;
        if (_widths.Length != n)
        {
            _widths = new int[n];
            _floors = new int[n];
            _visible = new bool[n];
        }
        if (n == 0)
        {
            return;
        }
        for (int c = 0; c < n; c++)
        {
            int widest = columns[c].Name.Length;
            int word = 0;
            for (int i = 0; i < shown; i++)
            {
                string cell = _cells[(i * n) + c];
                widest = Math.Max(widest, cell.Length);
                if (columns[c].Cut == Cut.KeepWord)
                {
                    word = Math.Max(word, FirstWord(cell));
                }
            }
            _floors[c] = Math.Max(columns[c].MinWidth, word);
            _widths[c] = Math.Clamp(widest, _floors[c], Math.Max(_floors[c], columns[c].MaxWidth));
            _visible[c] = true;
        }
        int keep = Enumerable.Range(0, n).MinBy(c => columns[c].Priority);
        while (Needed(useFloors: true) > width && LeastImportant(columns, c => c != keep) is { } hide)
        {
            _visible[hide] = false;
        }
        int last = Array.LastIndexOf(_visible, true);
        for (int excess = Needed(useFloors: false) - width; excess > 0;)
        {
            // What a state says after its word ("(transport_unreachable)") goes before any other column's text.
            if ((LeastImportant(columns, c => c != last && _widths[c] > _floors[c] && columns[c].Cut == Cut.KeepWord) ??
                 LeastImportant(columns, c => c != last && _widths[c] > _floors[c])) is not { } shrink)
            {
                break;
            }
            int cut = Math.Min(excess, _widths[shrink] - _floors[shrink]);
            _widths[shrink] -= cut;
            excess -= cut;
        }
        int used = Gap;
        for (int c = 0; c < n; c++)
        {
            used += c == last ? 0 : Advance(c);
        }
        _widths[last] = Math.Max(0, width - used);

        // The room the visible columns take: each at its width (or its minimum), the last at its minimum, gaps between.
        int Needed(bool useFloors)
        {
            int need = Gap;
            int lastShown = Array.LastIndexOf(_visible, true);
            for (int c = 0; c < n; c++)
            {
                if (_visible[c])
                {
                    need += c == lastShown || useFloors ? _floors[c] : _widths[c];
                    need += c == lastShown ? 0 : Gap;
                }
            }
            return need;
        }
    }

    /// <summary>Of the visible columns <paramref name="may"/> allows, the least important (the rightmost of equals), or null.</summary>
    private int? LeastImportant(IReadOnlyList<GridColumn> columns, Func<int, bool> may)
    {
        int? least = null;
        for (int c = 0; c < columns.Count; c++)
        {
            if (_visible[c] && may(c) && (least is not { } l || columns[c].Priority >= columns[l].Priority))
            {
                least = c;
            }
        }
        return least;
    }

    private static int FirstWord(string text) => text.IndexOf(' ', StringComparison.Ordinal) is var space and >= 0 ? space : text.Length;

    private void Blank(Attribute attribute)
    {
        Array.Fill(_line, ' ');
        Array.Fill(_attributes, attribute);
    }

    private void Colour(int x, int width, Attribute attribute) =>
        _attributes.AsSpan(Math.Min(x, _line.Length), Math.Clamp(width, 0, _line.Length - Math.Min(x, _line.Length))).Fill(attribute);

    /// <summary>
    /// Puts the text in its column, cut with '…' when too long, keeping what <paramref name="cut"/> says tells rows apart:
    /// its start, its end, both ends, or its first word whole.
    /// </summary>
    private void Write(int x, int width, string text, Cut cut)
    {
        width = Math.Min(width, _line.Length - x);
        if (width <= 0)
        {
            return;
        }
        if (text.Length <= width)
        {
            Copy(text, 0, text.Length, x);
            return;
        }
        int word = FirstWord(text);
        switch (cut)
        {
            case Cut.KeepWord when width <= word:
                Copy(text, 0, width, x); // the word alone (the column is never narrower than it, unless the screen is)
                break;
            case Cut.KeepEnd:
                _line[x] = '…';
                Copy(text, text.Length - (width - 1), width - 1, x + 1);
                break;
            case Cut.KeepBoth when width >= 3:
                int head = (width - 1) / 2;
                int tail = width - 1 - head;
                Copy(text, 0, head, x);
                _line[x + head] = '…';
                Copy(text, text.Length - tail, tail, x + head + 1);
                break;
            default:
                Copy(text, 0, width - 1, x);
                _line[x + width - 1] = '…';
                break;
        }
    }

    /// <summary>
    /// The text with each character the grid cannot show as one char in one column (see <see cref="OneColumn"/>)
    /// replaced by '?', and each cluster of several chars (a letter with combining marks, a Thai syllable, an emoji) by
    /// one '?', so the text's length is the columns it takes. (The app runs with invariant globalization, so there is no
    /// normalization to compose "e\u0301" into "é".) ASCII, nearly always, is returned as it is.
    /// </summary>
    internal static string OneCharPerColumn(string text)
    {
        if (Ascii.IsValid(text))
        {
            return text;
        }
        StringBuilder shown = new(text.Length);
        TextElementEnumerator elements = StringInfo.GetTextElementEnumerator(text);
        while (elements.MoveNext())
        {
            string element = elements.GetTextElement();
            shown.Append(element.Length == 1 ? OneColumn(element[0]) : '?');
        }
        return shown.ToString();
    }

    private void Copy(string text, int from, int count, int x)
    {
        for (int i = 0; i < count; i++)
        {
            _line[x + i] = OneColumn(text[from + i]);
        }
    }

    /// <summary>
    /// The character itself when the terminal shows it in exactly one column, else '?': the grid keeps one character per
    /// column, which is what lets it tell what is on screen already. Wide and combining characters, controls and
    /// surrogates show as '?' in the lists; the run view shows the full text.
    /// </summary>
    internal static char OneColumn(char c) =>
        c is >= ' ' and < '\u007f' ? c
        : c < '\u00a0' || char.IsSurrogate(c) || new Rune(c).GetColumns() != 1 ? '?'
        : c;

    /// <summary>Writes the composed line unless the screen shows it already; then only in runs of one attribute.</summary>
    private void Show(int line)
    {
        int width = _line.Length;
        if (App?.Driver?.Contents is { } contents && Shows(contents, ViewportToScreen(new Point(0, line))))
        {
            return;
        }
        LinesWritten++;
        for (int start = 0; start < width;)
        {
            int end = start + 1;
            while (end < width && _attributes[end] == _attributes[start])
            {
                end++;
            }
            Move(start, line);
            SetAttribute(_attributes[start]);
            AddStr(new string(_line, start, end - start));
            start = end;
        }
    }

    private bool Shows(Cell[,] contents, Point at)
    {
        if (at.Y < 0 || at.Y >= contents.GetLength(0) || at.X < 0 || at.X + _line.Length > contents.GetLength(1))
        {
            return false;
        }
        for (int x = 0; x < _line.Length; x++)
        {
            Cell cell = contents[at.Y, at.X + x];
            if (cell.Grapheme is not { Length: 1 } grapheme || grapheme[0] != _line[x] || cell.Attribute != _attributes[x])
            {
                return false;
            }
        }
        return true;
    }

    private sealed class NoRows : GridSource
    {
        public static readonly NoRows Instance = new();

        public override IReadOnlyList<GridColumn> Columns { get; } = [];

        public override int Rows => 0;

        public override string Cell(int row, int column) => throw new ArgumentOutOfRangeException(nameof(row));

        public override string Key(int row) => throw new ArgumentOutOfRangeException(nameof(row));
    }
}
