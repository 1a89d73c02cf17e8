using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// A .NET regex over lines of UTF-8 bytes. With a <paramref name="prefilter"/> (literals one of which every match
/// contains), only the lines holding one are decoded and tried; without one the whole block is decoded once and the
/// regex runs over it in multiline mode, each match then checked to lie within one line (as grep's do).
/// </summary>
internal sealed class RegexLineMatcher(Regex regex, IReadOnlyList<ByteFinder>? prefilter) : LineMatcher
{
    /// <summary>A match longer than this across the seam of two windows of a very long line can be missed.</summary>
    public override int Overlap => 16 * 1024;

    public override void FindLines(ReadOnlySpan<byte> block, LineWindow window, List<int> found, int limit)
    {
        char[] chars = ArrayPool<char>.Shared.Rent(Math.Max(1, block.Length));
        try
        {
            if (prefilter is null)
            {
                FindByDecodingBlock(block, window, found, limit, chars);
            }
            else
            {
                FindByCandidates(prefilter, block, window, found, limit, chars);
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    private void FindByCandidates(IReadOnlyList<ByteFinder> literals, ReadOnlySpan<byte> block, LineWindow window, List<int> found, int limit, char[] chars)
    {
        // Where each literal next occurs: looked up again only once the search has passed it, so that a rare
        // literal beside a frequent one is not searched for from every hit of the other.
        Span<int> next = stackalloc int[literals.Count];
        next.Fill(-1);
        int position = 0;
        while (position < block.Length && found.Count < limit)
        {
            int hit = int.MaxValue;
            for (int i = 0; i < literals.Count; i++)
            {
                if (next[i] < position)
                {
                    int index = literals[i].IndexOf(block[position..]);
                    next[i] = index < 0 ? int.MaxValue : position + index;
                }
                hit = Math.Min(hit, next[i]);
            }
            if (hit == int.MaxValue)
            {
                return;
            }
            int start = block[position..hit].LastIndexOf((byte)'\n') + 1 + position;
            int newline = block[hit..].IndexOf((byte)'\n');
            int end = newline < 0 ? block.Length : hit + newline;
            ReadOnlySpan<byte> line = block[start..end];
            int length = Encoding.UTF8.GetChars(line, chars);
            int at = FirstMatch(chars.AsSpan(0, length), window.StartsMidLine && start == 0, window.EndsMidLine && end == block.Length);
            if (at >= 0)
            {
                found.Add(start + Encoding.UTF8.GetByteCount(chars.AsSpan(0, at)));
            }
            position = end + 1;
        }
    }

    private void FindByDecodingBlock(ReadOnlySpan<byte> block, LineWindow window, List<int> found, int limit, char[] chars)
    {
        int length = Encoding.UTF8.GetChars(block, chars);
        ReadOnlySpan<char> text = chars.AsSpan(0, length);
        // Chars map one-to-one onto bytes exactly when every byte decoded to one char (see LineCursor).
        LineCursor cursor = new(block, text, identity: length == block.Length);
        int lineStart = 0;
        while (lineStart < length && found.Count < limit)
        {
            int from = window.StartsMidLine && lineStart == 0 ? 1 : lineStart;
            Regex.ValueMatchEnumerator matches = regex.EnumerateMatches(text, Math.Min(from, length));
            if (!matches.MoveNext())
            {
                return;
            }
            ValueMatch match = matches.Current;
            if (match.Index == length && text[^1] == '\n')
            {
                return; // the empty "line" after the last newline is not a line
            }
            int start = text[lineStart..match.Index].LastIndexOf('\n') + 1 + lineStart;
            int newline = text[match.Index..].IndexOf('\n');
            int end = newline < 0 ? length : match.Index + newline;
            bool startsMid = window.StartsMidLine && start == 0, endsMid = window.EndsMidLine && end == length;
            int at = match.Index + match.Length <= end && !(endsMid && match.Index + match.Length == length)
                ? match.Index - start
                : FirstMatch(text[start..end], startsMid, endsMid); // it ran across a newline: try the line alone
            if (at >= 0)
            {
                found.Add(cursor.ByteIndexOf(start, at));
            }
            lineStart = end + 1;
        }
    }

    /// <summary>
    /// The char index of the first match within one line, or -1. A match may not begin at a window's first char
    /// (^ would match there) nor end at its last ($ would), when that edge is mid-line: such a match lies in the
    /// overlap with the next or previous window, which sees it properly.
    /// </summary>
    private int FirstMatch(ReadOnlySpan<char> line, bool startsMid, bool endsMid)
    {
        int startAt = startsMid ? Math.Min(1, line.Length) : 0;
        foreach (ValueMatch match in regex.EnumerateMatches(line, startAt))
        {
            if (!(endsMid && match.Index + match.Length == line.Length))
            {
                return match.Index;
            }
        }
        return -1;
    }

    /// <summary>Maps char indexes of line starts in decoded text back to byte indexes, walking forwards only.</summary>
    private ref struct LineCursor(ReadOnlySpan<byte> bytes, ReadOnlySpan<char> chars, bool identity)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private readonly ReadOnlySpan<char> _chars = chars;
        private int _char, _byte;

        /// <summary>The byte index of char <paramref name="offset"/> of the line starting at char <paramref name="lineStart"/>.</summary>
        public int ByteIndexOf(int lineStart, int offset)
        {
            if (identity)
            {
                return lineStart + offset;
            }
            // Newlines survive decoding one for one (0x0A is never part of a multi-byte or invalid sequence), so the
            // k-th newline in chars is the k-th in bytes.
            int newlines = _chars[_char..lineStart].Count('\n');
            for (int i = 0; i < newlines; i++)
            {
                _byte += _bytes[_byte..].IndexOf((byte)'\n') + 1;
            }
            _char = lineStart;
            return _byte + Encoding.UTF8.GetByteCount(_chars.Slice(lineStart, offset));
        }
    }
}
