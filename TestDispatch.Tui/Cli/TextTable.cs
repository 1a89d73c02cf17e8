namespace TestDispatch.Tui.Cli;

/// <summary>Aligned columns for people: a header row, cells padded to the widest in each column.</summary>
public sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params string?[] cells) => _rows.Add([.. cells.Select(c => c ?? "")]);

    public void WriteTo(TextWriter output)
    {
        int[] widths = [.. headers.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max())];
        Write(output, headers, widths);
        foreach (string[] row in _rows)
        {
            Write(output, row, widths);
        }
    }

    private static void Write(TextWriter output, string[] cells, int[] widths)
    {
        string line = string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i])));
        output.WriteLine(line.TrimEnd());
    }
}
