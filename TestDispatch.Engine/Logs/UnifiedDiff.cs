using System.Globalization;

namespace TestDispatch.Engine.Logs;

/// <summary>Writes a <see cref="LogDiffResult"/> as diff -u does: "--- a", "+++ b", then "@@ -l,n +l,n @@" hunks.</summary>
public static class UnifiedDiff
{
    /// <summary>
    /// Nothing for equal logs; for logs too different to align, one line saying so, with the counts. Labels default to the paths.
    /// </summary>
    public static void Write(LogDiffResult result, TextWriter output, string? labelA = null, string? labelB = null)
    {
        switch (result.Outcome)
        {
            case LogDiffOutcome.Equal:
                return;
            case LogDiffOutcome.TooDifferent:
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Logs {labelA ?? result.PathA} and {labelB ?? result.PathB} differ, {result.Reason} "
                    + $"({result.CommonPrefixLines:N0} lines alike at the start, {result.CommonSuffixLines:N0} at the end)"));
                return;
        }
        output.WriteLine($"--- {labelA ?? result.PathA}");
        output.WriteLine($"+++ {labelB ?? result.PathB}");
        foreach (DiffHunk hunk in result.Hunks)
        {
            output.WriteLine($"@@ -{Range(hunk.StartA, hunk.CountA)} +{Range(hunk.StartB, hunk.CountB)} @@");
            foreach (DiffLine line in hunk.Lines)
            {
                output.Write(line.Kind switch { DiffLineKind.Removed => '-', DiffLineKind.Added => '+', _ => ' ' });
                output.WriteLine(line.Text);
            }
        }
    }

    public static string Render(LogDiffResult result, string? labelA = null, string? labelB = null)
    {
        using StringWriter output = new(CultureInfo.InvariantCulture) { NewLine = "\n" };
        Write(result, output, labelA, labelB);
        return output.ToString();
    }

    /// <summary>"l,n", or "l" for one line; an empty range names the line before it, as GNU diff does ("-0,0" at the top).</summary>
    private static string Range(long start, long count) => count switch
    {
        0 => string.Create(CultureInfo.InvariantCulture, $"{start - 1},0"),
        1 => string.Create(CultureInfo.InvariantCulture, $"{start}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{start},{count}"),
    };
}
