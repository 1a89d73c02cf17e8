namespace TestDispatch.Engine.Logs;

/// <summary>
/// How <see cref="LogSearch"/> reads its pattern and what it reports, in grep's terms: <c>-F</c>, <c>-i</c>,
/// <c>-l</c>, <c>-m</c>. <paramref name="MaxLineBytes"/> bounds the text of a hit (a longer line is cut around the match).
/// </summary>
public sealed record LogSearchOptions(
    bool FixedString = false,
    bool IgnoreCase = false,
    bool FilesWithMatches = false,
    long? MaxHits = null,
    int MaxLineBytes = 4096);
