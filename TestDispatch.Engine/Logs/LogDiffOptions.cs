namespace TestDispatch.Engine.Logs;

/// <summary>
/// How <see cref="LogDiff"/> compares two logs. <paramref name="Context"/>: unchanged lines shown around each change.
/// <paramref name="FoldVolatile"/>: compare with <see cref="VolatileTokens"/> folded (off: byte for byte).
/// <paramref name="MaxMiddleLines"/> and <paramref name="MaxEdits"/> bound the work: past them the result is
/// <see cref="LogDiffOutcome.TooDifferent"/> (the middle costs 16 bytes a line on each side; the alignment time grows
/// with lines times edits). <paramref name="MaxLineBytes"/> bounds each shown line.
/// </summary>
public sealed record LogDiffOptions(
    int Context = 3,
    bool FoldVolatile = true,
    int MaxMiddleLines = 2_000_000,
    int MaxEdits = 10_000,
    int MaxLineBytes = 1024);
