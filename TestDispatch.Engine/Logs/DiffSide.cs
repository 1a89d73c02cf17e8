namespace TestDispatch.Engine.Logs;

/// <summary>
/// One log of a <see cref="LogDiff"/>, as far as the diff keeps it: the last few line starts of the common prefix
/// (context for a first hunk), the middle's line starts and keys (what is aligned), and the first few line starts
/// of the common suffix (context for a last hunk). Everything else was streamed past.
/// </summary>
internal sealed class DiffSide(KeyedLines lines, int context)
{
    private readonly Queue<long> _prefixTail = new();
    private long[] _starts = new long[1024];
    private ulong[] _keys = new ulong[1024];
    private List<long>? _suffixHead;

    public KeyedLines Lines { get; } = lines;

    public long PrefixLines { get; private set; }

    /// <summary>Where the middle starts: just after the common prefix.</summary>
    public long MiddleStart { get; private set; }

    /// <summary>Where the common suffix starts: just after the middle.</summary>
    public long SuffixStart { get; set; } = lines.Length;

    public long SuffixLines { get; set; }

    public int MiddleCount { get; private set; }

    public ulong[] MiddleKeys => _keys;

    public long TotalLines => PrefixLines + MiddleCount + SuffixLines;

    public void AddPrefix(KeyedLine line)
    {
        if (context > 0)
        {
            if (_prefixTail.Count == context)
            {
                _prefixTail.Dequeue();
            }
            _prefixTail.Enqueue(line.Start);
        }
        PrefixLines++;
        MiddleStart = line.Next;
    }

    /// <summary>Reads the middle's lines; false (stopping there) past <paramref name="maxLines"/>.</summary>
    public bool ReadMiddle(int maxLines, CancellationToken cancellationToken)
    {
        long position = MiddleStart;
        while (Lines.Forward(position, SuffixStart, out KeyedLine line))
        {
            if (MiddleCount == maxLines)
            {
                return false;
            }
            if ((MiddleCount & 0xFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (MiddleCount == _starts.Length)
            {
                int size = (int)Math.Min((long)_starts.Length * 2, Math.Max(maxLines, 1));
                Array.Resize(ref _starts, size);
                Array.Resize(ref _keys, size);
            }
            _starts[MiddleCount] = line.Start;
            _keys[MiddleCount++] = line.Key;
            position = line.Next;
        }
        return true;
    }

    /// <summary>Where line <paramref name="index"/> (0-based, of the whole log) starts; only lines within the context of the middle are known.</summary>
    public long StartOf(long index)
    {
        if (index < PrefixLines)
        {
            return _prefixTail.ElementAt((int)(index - (PrefixLines - _prefixTail.Count)));
        }
        if (index < PrefixLines + MiddleCount)
        {
            return _starts[index - PrefixLines];
        }
        if (_suffixHead is null)
        {
            _suffixHead = [];
            long position = SuffixStart;
            for (int i = 0; i < context && Lines.Forward(position, Lines.Length, out KeyedLine line); i++)
            {
                _suffixHead.Add(line.Start);
                position = line.Next;
            }
        }
        return _suffixHead[(int)(index - PrefixLines - MiddleCount)];
    }
}
