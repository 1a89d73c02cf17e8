namespace TestDispatch.Tui.Text;

/// <summary>
/// Aligned columns for people: a header row, cells padded to the widest in each column (in terminal columns). Each cell is
/// one line: its control characters are escaped (<see cref="TerminalText.Escape"/>), so a name with a newline in it never
/// breaks a row in two, nor a name with an ESC steers the terminal.
/// </summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string?[] cells) => _rows.Add([.. cells.Select(TerminalText.Escape)]);

    public int Count => _rows.Count;

    public void WriteTo(TextWriter output) => WriteTo(output, null);

    /// <summary>
    /// Writes the rows, and the header unless <paramref name="widths"/> (those of an earlier part of the same table) are
    /// given; returns the widths used, at least the earlier ones. Then empties the table: for a listing written in parts,
    /// so it never holds more than a part.
    /// </summary>
    public int[] WriteTo(TextWriter output, int[]? widths)
    {
        int[] own = [.. headers.Select((h, i) => _rows.Select(r => TerminalText.Width(r[i])).Append(h.Length).Append(widths?[i] ?? 0).Max())];
        if (widths is null)
        {
            Write(output, headers, own);
        }
        foreach (string[] row in _rows)
        {
            Write(output, row, own);
        }
        _rows.Clear();
        return own;
    }

    private static void Write(TextWriter output, string[] cells, int[] widths)
    {
        string line = string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : TerminalText.PadRight(c, widths[i])));
        output.WriteLine(line.TrimEnd());
    }
}
