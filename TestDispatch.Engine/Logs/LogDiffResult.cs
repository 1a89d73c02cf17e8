using System.Text.Json.Serialization;

namespace TestDispatch.Engine.Logs;

/// <summary>What a comparison found. Part of the JSON contract (<see cref="LogJson"/>): names are snake_case strings.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LogDiffOutcome>))]
public enum LogDiffOutcome
{
    /// <summary>Nothing differs but volatile tokens (or nothing at all).</summary>
    [JsonStringEnumMemberName("equal")] Equal,

    /// <summary>The logs differ; <see cref="LogDiffResult.Hunks"/> says where.</summary>
    [JsonStringEnumMemberName("different")] Different,

    /// <summary>The differing middle is past the bounds of <see cref="LogDiffOptions"/>: no hunks, only counts and a reason.</summary>
    [JsonStringEnumMemberName("too_different")] TooDifferent,
}

/// <summary>
/// The comparison of log A (the reference, say the last passing run) with log B. Line counts are of lines as the
/// diff reads them (a last line without a newline counts). The common prefix and suffix are what matched before
/// the first and after the last difference; the middle is what lies between, on each side. <see cref="Removed"/>
/// and <see cref="Added"/> count the lines of A and B outside the alignment. <see cref="Reason"/> is set for
/// <see cref="LogDiffOutcome.TooDifferent"/>; then a middle count may be a lower bound (reading stopped at the cap).
/// </summary>
public sealed record LogDiffResult(
    LogDiffOutcome Outcome,
    string PathA,
    string PathB,
    long LinesA,
    long LinesB,
    long CommonPrefixLines,
    long CommonSuffixLines,
    long MiddleLinesA,
    long MiddleLinesB,
    long Removed,
    long Added,
    IReadOnlyList<DiffHunk> Hunks,
    string? Reason = null);

/// <summary>
/// One hunk of a unified diff: lines <see cref="StartA"/>.. of A (<see cref="CountA"/> of them) against lines
/// <see cref="StartB"/>.. of B, 1-based. With a count of 0, the start is the line the other side's lines come before.
/// </summary>
public sealed record DiffHunk(long StartA, long CountA, long StartB, long CountB, IReadOnlyList<DiffLine> Lines);

[JsonConverter(typeof(JsonStringEnumConverter<DiffLineKind>))]
public enum DiffLineKind
{
    [JsonStringEnumMemberName("context")] Context,
    [JsonStringEnumMemberName("removed")] Removed,
    [JsonStringEnumMemberName("added")] Added,
}

/// <summary>
/// A line of a hunk, as it is in its log (never folded): its number on each side it is on, and its text with
/// invalid UTF-8 and control characters other than tab escaped as \xNN, cut at the options' bound ("…", <see cref="Cut"/>).
/// A context line shows A's text (B's differs at most in volatile tokens).
/// </summary>
public sealed record DiffLine(DiffLineKind Kind, long? LineA, long? LineB, string Text, bool Cut = false);
