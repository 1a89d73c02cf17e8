namespace TestDispatch.Engine.Logs;

/// <summary>
/// Where a block handed to a <see cref="LineMatcher"/> sits in its log. Usually a block is whole lines; a line
/// longer than the read buffer comes in overlapping windows, and then an edge of the block is not a line's edge
/// (a regex's ^ and $ must not match there).
/// </summary>
internal readonly record struct LineWindow(bool StartsMidLine, bool EndsMidLine)
{
    public static LineWindow WholeLines => default;
}

/// <summary>Finds the lines of a block of UTF-8 bytes that match a pattern. Stateless: one instance serves many searches at once.</summary>
internal abstract class LineMatcher
{
    /// <summary>
    /// Adds to <paramref name="found"/> the byte index of the first match on each matching line of
    /// <paramref name="block"/>, in order, until it holds <paramref name="limit"/> entries. Lines end at '\n'; the last
    /// line of a block may have none.
    /// </summary>
    public abstract void FindLines(ReadOnlySpan<byte> block, LineWindow window, List<int> found, int limit);

    /// <summary>How many bytes a window of a long line repeats from the previous one, so that a match across the seam is seen whole.</summary>
    public abstract int Overlap { get; }
}
