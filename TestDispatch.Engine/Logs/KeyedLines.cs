using Microsoft.Win32.SafeHandles;

namespace TestDispatch.Engine.Logs;

/// <summary>One line of a log as the diff sees it: where it starts and ends (before its newline), where the next starts, its key.</summary>
internal readonly record struct KeyedLine(long Start, long End, long Next, ulong Key);

/// <summary>
/// A log read line by line with <see cref="LineKeyer"/> keys, forwards from any line start or backwards from any
/// line end, through two fixed buffers (one per direction). A line longer than a buffer is found by scanning for its
/// newline and keyed by streaming it from disk, so memory stays flat whatever the lines. The log's length is taken
/// at open: a log still growing is compared as it was then. A final line without a newline is a line like any other.
/// </summary>
internal sealed class KeyedLines : IDisposable
{
    private readonly string _path;
    private readonly SafeFileHandle _file;
    private readonly LineKeyer _keyer;
    private readonly byte[] _forward, _backward, _chunk = new byte[LineKeyer.ChunkBytes];
    private long _forwardStart = -1, _backwardStart = -1;
    private int _forwardLength, _backwardLength;

    public KeyedLines(string path, LineKeyer keyer, int bufferSize = 1024 * 1024)
    {
        _path = path;
        _keyer = keyer;
        try
        {
            _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw LogGoneException.Missing(path, e);
        }
        Length = RandomAccess.GetLength(_file);
        _forward = new byte[bufferSize];
        _backward = new byte[bufferSize];
    }

    public long Length { get; }

    /// <summary>The line starting at <paramref name="position"/>, if it is before <paramref name="limit"/> (a line start or the end).</summary>
    public bool Forward(long position, long limit, out KeyedLine line)
    {
        line = default;
        if (position >= limit)
        {
            return false;
        }
        ReadOnlySpan<byte> window = ForwardWindow(position, limit, refill: false);
        int newline = window.IndexOf((byte)'\n');
        if (newline < 0 && position + window.Length < limit && _forwardStart != position)
        {
            window = ForwardWindow(position, limit, refill: true); // the line runs past what the buffer held: read from its start
            newline = window.IndexOf((byte)'\n');
        }
        if (newline >= 0)
        {
            line = new KeyedLine(position, position + newline, position + newline + 1, _keyer.Key(window[..newline]));
        }
        else if (position + window.Length == limit)
        {
            line = new KeyedLine(position, limit, limit, _keyer.Key(window));
        }
        else
        {
            long end = NewlineFrom(position + window.Length, limit);
            line = new KeyedLine(position, end, Math.Min(end + 1, limit), KeyAt(position, end));
        }
        return true;
    }

    /// <summary>The line that <paramref name="end"/> (a line start, or the log's end) follows, if it starts at or after <paramref name="floor"/>.</summary>
    public bool Backward(long end, long floor, out KeyedLine line)
    {
        line = default;
        if (end <= floor)
        {
            return false;
        }
        ReadOnlySpan<byte> window = BackwardWindow(end, floor, refill: false);
        long windowStart = end - window.Length;
        int contentEnd = window[^1] == (byte)'\n' ? window.Length - 1 : window.Length;
        int newline = window[..contentEnd].LastIndexOf((byte)'\n');
        if (newline < 0 && windowStart > floor && _backwardStart + _backwardLength != end)
        {
            window = BackwardWindow(end, floor, refill: true);
            windowStart = end - window.Length;
            contentEnd = window[^1] == (byte)'\n' ? window.Length - 1 : window.Length;
            newline = window[..contentEnd].LastIndexOf((byte)'\n');
        }
        long lineEnd = windowStart + contentEnd;
        if (newline >= 0 || windowStart == floor)
        {
            int start = newline + 1;
            line = new KeyedLine(windowStart + start, lineEnd, end, _keyer.Key(window[start..contentEnd]));
        }
        else
        {
            long start = LineStartBefore(windowStart, floor);
            line = new KeyedLine(start, lineEnd, end, KeyAt(start, lineEnd));
        }
        return true;
    }

    /// <summary>Up to <paramref name="maxBytes"/> bytes of the line starting at <paramref name="start"/>, and whether it goes on.</summary>
    public (byte[] Bytes, bool Cut) Read(long start, int maxBytes)
    {
        byte[] bytes = new byte[(int)Math.Min(maxBytes + 1, Math.Max(0, Length - start))];
        int read = ReadAt(bytes, start);
        int newline = bytes.AsSpan(0, read).IndexOf((byte)'\n');
        if (newline >= 0 && newline <= maxBytes)
        {
            return (bytes[..newline], false);
        }
        return read > maxBytes ? (bytes[..maxBytes], true) : (bytes[..read], false);
    }

    public void Dispose() => _file.Dispose();

    private ReadOnlySpan<byte> ForwardWindow(long position, long limit, bool refill)
    {
        if (refill || position < _forwardStart || position >= _forwardStart + _forwardLength)
        {
            _forwardStart = position;
            _forwardLength = ReadAt(_forward.AsSpan(0, (int)Math.Min(_forward.Length, limit - position)), position);
        }
        int from = (int)(position - _forwardStart);
        return _forward.AsSpan(from, (int)Math.Min(_forwardLength - from, limit - position));
    }

    private ReadOnlySpan<byte> BackwardWindow(long end, long floor, bool refill)
    {
        if (refill || end <= _backwardStart || end > _backwardStart + _backwardLength)
        {
            long start = Math.Max(floor, end - _backward.Length);
            _backwardStart = start;
            _backwardLength = ReadAt(_backward.AsSpan(0, (int)(end - start)), start);
        }
        long from = Math.Max(floor, _backwardStart);
        return _backward.AsSpan((int)(from - _backwardStart), (int)(end - from));
    }

    /// <summary>The offset of the first newline at or after <paramref name="from"/>, or <paramref name="limit"/>.</summary>
    private long NewlineFrom(long from, long limit)
    {
        for (long at = from; at < limit; at += _chunk.Length)
        {
            int read = ReadAt(_chunk.AsSpan(0, (int)Math.Min(_chunk.Length, limit - at)), at);
            int newline = _chunk.AsSpan(0, read).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                return at + newline;
            }
        }
        return limit;
    }

    /// <summary>The start of the line holding the byte before <paramref name="before"/>: just after the newline before it, or <paramref name="floor"/>.</summary>
    private long LineStartBefore(long before, long floor)
    {
        for (long end = before; end > floor;)
        {
            long start = Math.Max(floor, end - _chunk.Length);
            int read = ReadAt(_chunk.AsSpan(0, (int)(end - start)), start);
            int newline = _chunk.AsSpan(0, read).LastIndexOf((byte)'\n');
            if (newline >= 0)
            {
                return start + newline + 1;
            }
            end = start;
        }
        return floor;
    }

    /// <summary>The key of the line in [<paramref name="start"/>, <paramref name="end"/>), streamed a chunk at a time.</summary>
    private ulong KeyAt(long start, long end)
    {
        ulong key = 0;
        for (long at = start; at < end || at == start; at += _chunk.Length)
        {
            int read = ReadAt(_chunk.AsSpan(0, (int)Math.Min(_chunk.Length, end - at)), at);
            key = at == start ? _keyer.Head(_chunk.AsSpan(0, read)) : LineKeyer.Next(key, _chunk.AsSpan(0, read));
        }
        return key;
    }

    /// <summary>Reads all of <paramref name="into"/>; a log that ends sooner than its length at open was truncated under us.</summary>
    private int ReadAt(Span<byte> into, long offset)
    {
        int total = 0;
        while (total < into.Length)
        {
            int read = RandomAccess.Read(_file, into[total..], offset + total);
            if (read == 0)
            {
                throw LogGoneException.Shrank(_path, RandomAccess.GetLength(_file), offset + total);
            }
            total += read;
        }
        return total;
    }
}
