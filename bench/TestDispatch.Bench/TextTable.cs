namespace TestDispatch.Bench;

/// <summary>A plain aligned table: first column left-aligned, the others (figures) right-aligned.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"a row needs {headers.Length} cells, got {cells.Length}", nameof(cells));
        }
        _rows.Add(cells);
    }

    public void Write(TextWriter to, string indent = "  ")
    {
        int[] widths = [.. headers.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max())];
        WriteRow(to, indent, headers, widths);
        to.WriteLine(indent + string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (string[] row in _rows)
        {
            WriteRow(to, indent, row, widths);
        }
    }

    private static void WriteRow(TextWriter to, string indent, string[] cells, int[] widths) =>
        to.WriteLine(indent + string.Join("  ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))).TrimEnd());
}
