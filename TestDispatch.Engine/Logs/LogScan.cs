using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// One pass of a <see cref="LogSearch"/> over one file, a buffer at a time. The buffer holds whole lines plus the
/// unfinished line carried to the next read; a line longer than the buffer is searched in overlapping windows and
/// its text read back from the file around the match. Newlines are counted only with vectorized counts over
/// stretches between hits.
/// </summary>
internal sealed class LogScan : IDisposable
{
    private readonly string _path;
    private readonly SafeFileHandle _file;
    private readonly LineMatcher _matcher;
    private readonly LogSearchOptions _options;
    private readonly byte[] _buffer;
    private readonly List<int> _found = [];
    private long _bufferOffset;   // the file offset of _buffer[0]
    private int _carry;           // bytes at the front of _buffer kept from the previous read
    private long _line = 1;       // the number of the line starting at _buffer[0], or of the long line being read
    private long _hits;
    private bool _binary, _done;

    // A line longer than the buffer, read in windows: where it starts, whether a window has matched, whether the
    // buffer holds its first window.
    private bool _inLongLine, _longLineMatched, _firstWindow;
    private long _longLineStart;

    public LogScan(string path, LineMatcher matcher, LogSearchOptions options, int blockSize)
    {
        _path = path;
        _matcher = matcher;
        _options = options;
        try
        {
            _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw LogGoneException.Missing(path, e);
        }
        _buffer = ArrayPool<byte>.Shared.Rent(blockSize);
    }

    private int Limit => _binary || _options.FilesWithMatches ? 1
        : _options.MaxHits is { } max ? (int)Math.Min(int.MaxValue, max - _hits) : int.MaxValue;

    /// <summary>Reads and searches one buffer, adding its hits; false once the search is over.</summary>
    public bool Next(List<LogHit> hits)
    {
        if (_done)
        {
            return false;
        }
        int wanted = _buffer.Length - _carry;
        int read = ReadFully(_buffer.AsSpan(_carry), _bufferOffset + _carry);
        bool eof = read < wanted;
        int end = _carry + read;
        // As GNU grep: a NUL anywhere in what is read makes the file binary from this buffer on.
        _binary |= _buffer.AsSpan(_carry, read).Contains((byte)0);
        if (eof && RandomAccess.GetLength(_file) < _bufferOffset + end)
        {
            throw LogGoneException.Shrank(_path, RandomAccess.GetLength(_file), _bufferOffset + end);
        }
        if (!_inLongLine)
        {
            int blockEnd = eof ? end : _buffer.AsSpan(0, end).LastIndexOf((byte)'\n') + 1;
            if (blockEnd > 0 || eof)
            {
                SearchLines(_buffer.AsSpan(0, blockEnd), hits);
                _done |= eof;
                Keep(blockEnd, end);
                return !_done;
            }
            (_inLongLine, _longLineMatched, _firstWindow, _longLineStart) = (true, false, true, _bufferOffset);
        }
        return SearchLongLineWindow(end, eof, hits);
    }

    public void Dispose()
    {
        _file.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
    }

    private void SearchLines(ReadOnlySpan<byte> block, List<LogHit> hits)
    {
        _found.Clear();
        _matcher.FindLines(block, LineWindow.WholeLines, _found, Limit);
        long line = _line;
        int counted = 0;
        foreach (int at in _found)
        {
            int start = block[counted..at].LastIndexOf((byte)'\n') + 1 + counted;
            line += block[counted..start].Count((byte)'\n');
            counted = start;
            int newline = block[at..].IndexOf((byte)'\n');
            ReadOnlySpan<byte> text = block[start..(newline < 0 ? block.Length : at + newline)];
            if (Add(hits, line, _bufferOffset + start, text, at - start))
            {
                return;
            }
        }
        _line = line + block[counted..].Count((byte)'\n');
    }

    private bool SearchLongLineWindow(int end, bool eof, List<LogHit> hits)
    {
        ReadOnlySpan<byte> data = _buffer.AsSpan(0, end);
        int newline = data.IndexOf((byte)'\n'); // never in the overlap kept from the last window
        ReadOnlySpan<byte> window = newline < 0 ? data : data[..newline];
        bool lineEnds = newline >= 0 || eof;
        if (!_longLineMatched)
        {
            _found.Clear();
            _matcher.FindLines(window, new LineWindow(StartsMidLine: !_firstWindow, EndsMidLine: !lineEnds), _found, 1);
            if (_found.Count > 0)
            {
                _longLineMatched = true;
                long matchOffset = _bufferOffset + _found[0];
                if (AddLongLine(hits, matchOffset))
                {
                    return false;
                }
            }
        }
        _firstWindow = false;
        if (newline >= 0)
        {
            _inLongLine = false;
            _line++;
            Keep(newline + 1, end);
            return true;
        }
        if (eof)
        {
            _done = true;
            return false;
        }
        Keep(_longLineMatched ? end : end - _matcher.Overlap, end);
        return true;
    }

    /// <summary>Reads back the part of a long line around a match, up to its end if that is near.</summary>
    private bool AddLongLine(List<LogHit> hits, long matchOffset)
    {
        if (_binary)
        {
            return AddHit(hits, new LogHit(LogHitKind.BinaryFile, _line, _longLineStart, ""));
        }
        int room = _options.MaxLineBytes;
        long from = Math.Max(_longLineStart, matchOffset - room / 4);
        byte[] bytes = new byte[room + 4];
        int read = ReadFully(bytes, from);
        ReadOnlySpan<byte> text = bytes.AsSpan(0, read);
        int newline = text.IndexOf((byte)'\n');
        bool continues = newline < 0 && read == bytes.Length;
        text = newline < 0 ? text : text[..newline];
        (string cut, _) = LineText.Around(text, (int)(matchOffset - from), room, startsMidLine: from > _longLineStart, endsMidLine: continues);
        return AddHit(hits, new LogHit(LogHitKind.Line, _line, _longLineStart, cut, Cut: true));
    }

    private bool Add(List<LogHit> hits, long line, long offset, ReadOnlySpan<byte> text, int matchAt)
    {
        if (_binary)
        {
            return AddHit(hits, new LogHit(LogHitKind.BinaryFile, line, offset, ""));
        }
        (string shown, bool cut) = LineText.Around(text, matchAt, _options.MaxLineBytes);
        return AddHit(hits, new LogHit(LogHitKind.Line, line, offset, shown, cut));
    }

    /// <summary>Adds a hit; true (and the search done) once no more hits are wanted.</summary>
    private bool AddHit(List<LogHit> hits, LogHit hit)
    {
        hits.Add(hit);
        _hits++;
        _done = hit.Kind == LogHitKind.BinaryFile || _options.FilesWithMatches || _hits >= _options.MaxHits;
        return _done;
    }

    /// <summary>Moves <c>_buffer[from..end]</c> to the front: the next read appends to it.</summary>
    private void Keep(int from, int end)
    {
        _buffer.AsSpan(from, end - from).CopyTo(_buffer);
        _bufferOffset += from;
        _carry = end - from;
    }

    private int ReadFully(Span<byte> into, long offset)
    {
        int total = 0;
        while (total < into.Length)
        {
            int read = RandomAccess.Read(_file, into[total..], offset + total);
            if (read == 0)
            {
                break;
            }
            total += read;
        }
        return total;
    }
}
