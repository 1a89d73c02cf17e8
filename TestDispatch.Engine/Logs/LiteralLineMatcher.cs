namespace TestDispatch.Engine.Logs;

/// <summary>A fixed string (<c>-F</c>, or a regex that is nothing but a literal): bytes only, nothing decoded.</summary>
internal sealed class LiteralLineMatcher(ByteFinder finder) : LineMatcher
{
    public override int Overlap => Math.Max(0, finder.Length - 1);

    public override void FindLines(ReadOnlySpan<byte> block, LineWindow window, List<int> found, int limit)
    {
        int position = 0;
        while (position < block.Length && found.Count < limit)
        {
            int hit = finder.IndexOf(block[position..]);
            if (hit < 0)
            {
                return;
            }
            hit += position;
            found.Add(hit);
            int newline = block[hit..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                return;
            }
            position = hit + newline + 1;
        }
    }
}
