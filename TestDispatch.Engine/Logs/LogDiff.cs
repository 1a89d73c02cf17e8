namespace TestDispatch.Engine.Logs;

/// <summary>
/// "What changed since the last pass": a line diff of two logs after folding what changes between any two runs
/// (<see cref="VolatileTokens"/>), showing the original lines in unified-diff hunks. Memory stays bounded whatever
/// the logs' size: the common prefix is streamed past, the common suffix found by reading backwards, and only the
/// middle is held, as a 64-bit key and an offset per line, and aligned with <see cref="MyersDiff"/> within the
/// bounds of <see cref="LogDiffOptions"/>; text is re-read from disk only for the lines shown.
/// </summary>
public static class LogDiff
{
    /// <summary>Comparisons the alignment may make before it gives up: a few seconds of work.</summary>
    private const long MaxSteps = 1_000_000_000;

    /// <exception cref="LogGoneException">A log is missing, or was truncated while being read.</exception>
    public static LogDiffResult Compare(string pathA, string pathB, LogDiffOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LogDiffOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Context, nameof(options));
        LineKeyer keyer = new(options.FoldVolatile);
        using KeyedLines linesA = new(pathA, keyer), linesB = new(pathB, keyer);
        DiffSide a = new(linesA, options.Context), b = new(linesB, options.Context);

        for (long n = 0; ; n++)
        {
            if ((n & 0xFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (!linesA.Forward(a.MiddleStart, linesA.Length, out KeyedLine lineA) || !linesB.Forward(b.MiddleStart, linesB.Length, out KeyedLine lineB)
                || lineA.Key != lineB.Key)
            {
                break;
            }
            a.AddPrefix(lineA);
            b.AddPrefix(lineB);
        }
        for (long n = 0; ; n++)
        {
            if ((n & 0xFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (!linesA.Backward(a.SuffixStart, a.MiddleStart, out KeyedLine lineA) || !linesB.Backward(b.SuffixStart, b.MiddleStart, out KeyedLine lineB)
                || lineA.Key != lineB.Key)
            {
                break;
            }
            (a.SuffixStart, b.SuffixStart) = (lineA.Start, lineB.Start);
            a.SuffixLines++;
            b.SuffixLines++;
        }

        bool fitA = a.ReadMiddle(options.MaxMiddleLines, cancellationToken);
        bool fitB = b.ReadMiddle(options.MaxMiddleLines, cancellationToken);
        if (!fitA || !fitB)
        {
            string which = fitA ? "B" : fitB ? "A" : "A and of B";
            return TooDifferent(pathA, pathB, a, b, $"more than {options.MaxMiddleLines:N0} lines of {which} lie between the first and the last difference");
        }
        if (a.MiddleCount == 0 && b.MiddleCount == 0)
        {
            return Result(LogDiffOutcome.Equal, pathA, pathB, a, b, 0, 0, []);
        }
        (bool[] ChangedA, bool[] ChangedB)? changes = MyersDiff.Diff(a.MiddleKeys, a.MiddleCount, b.MiddleKeys, b.MiddleCount, options.MaxEdits, MaxSteps, cancellationToken);
        long removed = changes is { } c1 ? c1.ChangedA.Count(changed => changed) : 0, added = changes is { } c2 ? c2.ChangedB.Count(changed => changed) : 0;
        if (changes is null || removed + added > options.MaxEdits)
        {
            return TooDifferent(pathA, pathB, a, b,
                $"aligning the {a.MiddleCount:N0} and {b.MiddleCount:N0} lines between the first and the last difference takes more than {options.MaxEdits:N0} changed lines");
        }
        IReadOnlyList<DiffHunk> hunks = DiffHunks.Build(a, b, changes.Value.ChangedA, changes.Value.ChangedB, options);
        return Result(LogDiffOutcome.Different, pathA, pathB, a, b, removed, added, hunks);
    }

    private static LogDiffResult TooDifferent(string pathA, string pathB, DiffSide a, DiffSide b, string reason) =>
        Result(LogDiffOutcome.TooDifferent, pathA, pathB, a, b, 0, 0, []) with { Reason = $"too different to align: {reason}" };

    private static LogDiffResult Result(LogDiffOutcome outcome, string pathA, string pathB, DiffSide a, DiffSide b, long removed, long added,
        IReadOnlyList<DiffHunk> hunks) =>
        new(outcome, pathA, pathB, a.TotalLines, b.TotalLines, a.PrefixLines, a.SuffixLines, a.MiddleCount, b.MiddleCount, removed, added, hunks);
}
