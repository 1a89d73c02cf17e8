using System.Globalization;

namespace TestDispatch.Engine.Results;

/// <summary>
/// Keeps the first <c>head</c> and the last <c>tail</c> characters of a text of any length, counting what it cut
/// between, as Jenkins does with system-out: memory stays at head + tail however much is appended.
/// Control characters are replaced as they come, lone surrogates at the end (<see cref="ControlCharacters"/>).
/// </summary>
internal sealed class BoundedText(int head, int tail)
{
    // 4 KiB each side: a failure's message and first frames, and the last lines the test printed before it ended.
    public const int TextHead = 4 * 1024;
    public const int TextTail = 4 * 1024;
    public const int MessageHead = 512;
    public const int MessageTail = 512;
    public const int MarkerMaxLength = 64;

    private readonly char[] _head = new char[head];
    private readonly char[] _tail = new char[tail];
    private int _headCount;
    private int _tailStart;
    private int _tailCount;
    private long _cut;

    public bool IsEmpty => _headCount == 0;

    public static string Clip(string text, int head, int tail)
    {
        if (text.Length <= head + tail)
        {
            return ControlCharacters.Replace(text);
        }
        BoundedText bounded = new(head, tail);
        bounded.Append(text);
        return bounded.ToString();
    }

    public void Append(ReadOnlySpan<char> text)
    {
        int toHead = Math.Min(_head.Length - _headCount, text.Length);
        if (toHead > 0)
        {
            text[..toHead].CopyTo(_head.AsSpan(_headCount));
            ControlCharacters.Replace(_head.AsSpan(_headCount, toHead));
            _headCount += toHead;
            text = text[toHead..];
        }
        if (text.IsEmpty || _tail.Length == 0)
        {
            _cut += text.Length;
            return;
        }
        if (text.Length >= _tail.Length)
        {
            _cut += _tailCount + text.Length - _tail.Length;
            text[^_tail.Length..].CopyTo(_tail);
            ControlCharacters.Replace(_tail);
            _tailStart = 0;
            _tailCount = _tail.Length;
            return;
        }
        int overflow = _tailCount + text.Length - _tail.Length;
        if (overflow > 0)
        {
            _tailStart = (_tailStart + overflow) % _tail.Length;
            _tailCount -= overflow;
            _cut += overflow;
        }
        int end = (_tailStart + _tailCount) % _tail.Length;
        int first = Math.Min(text.Length, _tail.Length - end);
        text[..first].CopyTo(_tail.AsSpan(end));
        text[first..].CopyTo(_tail);
        ControlCharacters.Replace(_tail.AsSpan(end, first));
        ControlCharacters.Replace(_tail.AsSpan(0, text.Length - first));
        _tailCount += text.Length;
    }

    public override string ToString()
    {
        char[] tailText = new char[_tailCount];
        int first = Math.Min(_tailCount, _tail.Length - _tailStart);
        _tail.AsSpan(_tailStart, first).CopyTo(tailText);
        _tail.AsSpan(0, _tailCount - first).CopyTo(tailText.AsSpan(first));
        ReadOnlySpan<char> headPart = _head.AsSpan(0, _headCount);
        ReadOnlySpan<char> tailPart = tailText;
        if (_cut == 0)
        {
            return ControlCharacters.RepairSurrogates(string.Concat(headPart, tailPart));
        }
        long cut = _cut;
        // A cut may fall inside a surrogate pair: drop its halves rather than keep a broken character.
        if (!headPart.IsEmpty && char.IsHighSurrogate(headPart[^1]))
        {
            headPart = headPart[..^1];
            cut++;
        }
        if (!tailPart.IsEmpty && char.IsLowSurrogate(tailPart[0]))
        {
            tailPart = tailPart[1..];
            cut++;
        }
        string marker = string.Create(CultureInfo.InvariantCulture, $"\n[… {cut:N0} characters cut …]\n");
        return ControlCharacters.RepairSurrogates(string.Concat(headPart, marker, tailPart));
    }
}
