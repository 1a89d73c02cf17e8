using System.IO.Abstractions;
using System.Text;

namespace TestDispatch.Engine.Logs;

/// <summary>One line of a log: where it starts, its text (cut at a screenful; invalid UTF-8 as U+FFFD), where the next begins.</summary>
public sealed record LogLine(long Offset, string Text, long NextOffset);

/// <summary>
/// Reads a log the way <c>less</c> does: by byte offset, only around what is on screen, forwards and
/// backwards from any line start. A gigabyte log costs a few blocks to open, scroll or tail; memory
/// stays flat. Searches scan in chunks (case-insensitive for ASCII) and can be cancelled.
/// </summary>
public sealed class LogPager(IFileSystem fs, string path) : IDisposable
{
    private const int Chunk = 64 * 1024;
    private Stream? _stream;

    public long Length => Open()?.Length ?? 0;

    /// <summary>Up to <paramref name="count"/> complete-or-partial lines starting at <paramref name="offset"/> (a line start).</summary>
    public IReadOnlyList<LogLine> ReadLines(long offset, int count, int maxLineBytes = 4096)
    {
        List<LogLine> lines = [];
        Stream? stream = Open();
        if (stream is null)
        {
            return lines;
        }
        long length = stream.Length;
        byte[] buffer = new byte[Chunk];
        while (lines.Count < count && offset < length)
        {
            stream.Seek(offset, SeekOrigin.Begin);
            int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, length - offset));
            int newline = Array.IndexOf(buffer, (byte)'\n', 0, read);
            if (newline >= 0)
            {
                lines.Add(new LogLine(offset, Decode(buffer.AsSpan(0, Math.Min(newline, maxLineBytes))), offset + newline + 1));
                offset += newline + 1;
                continue;
            }
            // A line longer than a chunk (or the unfinished last line): show its start, skip to its end.
            string text = Decode(buffer.AsSpan(0, Math.Min(read, maxLineBytes)));
            long next = NextLineStart(stream, offset + read, length, buffer);
            lines.Add(new LogLine(offset, text, next));
            offset = next;
        }
        return lines;
    }

    /// <summary>The start of the line <paramref name="lines"/> lines above the line starting at <paramref name="offset"/>.</summary>
    public long LineStartBefore(long offset, int lines)
    {
        Stream? stream = Open();
        if (stream is null || offset <= 0)
        {
            return 0;
        }
        byte[] buffer = new byte[Chunk];
        long position = offset - 1; // the newline ending the line above
        int found = 0;
        while (position > 0)
        {
            int size = (int)Math.Min(buffer.Length, position);
            stream.Seek(position - size, SeekOrigin.Begin);
            stream.ReadExactly(buffer, 0, size);
            for (int i = size - 1; i >= 0; i--)
            {
                if (buffer[i] == (byte)'\n' && ++found == lines)
                {
                    return position - size + i + 1;
                }
            }
            position -= size;
        }
        return 0;
    }

    /// <summary>Where the last <paramref name="lines"/> lines start.</summary>
    public long TailStart(int lines) => Open() is { } stream ? LogTail.StartOfLastLines(stream, lines) : 0;

    /// <summary>
    /// The start of the next line after (or before, going backwards) the line at <paramref name="from"/>
    /// that contains <paramref name="text"/>, or null if there is none; going forward <paramref name="fromItsLine"/>, the
    /// line at <paramref name="from"/> is searched too.
    /// </summary>
    public long? Find(string text, long from, bool forward, bool fromItsLine = false, CancellationToken cancellationToken = default)
    {
        Stream? stream = Open();
        if (stream is null || text.Length == 0)
        {
            return null;
        }
        byte[] needle = Encoding.UTF8.GetBytes(text.ToLowerInvariant());
        long length = stream.Length;
        byte[] buffer = new byte[Chunk + needle.Length];
        if (forward)
        {
            long position = fromItsLine ? LineStartOf(Math.Min(from, length)) : NextLineStart(stream, from, length, new byte[Chunk]);
            while (position < length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                stream.Seek(position, SeekOrigin.Begin);
                int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, length - position));
                int hit = LowerAscii(buffer.AsSpan(0, read)).IndexOf(needle);
                if (hit >= 0)
                {
                    return LineStartOf(position + hit);
                }
                position += Math.Max(1, read - needle.Length + 1);
            }
            return null;
        }
        long end = from;
        while (end > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long start = Math.Max(0, end - Chunk);
            int size = (int)Math.Min(buffer.Length, Math.Min(length, end + needle.Length - 1) - start);
            stream.Seek(start, SeekOrigin.Begin);
            stream.ReadExactly(buffer, 0, size);
            int hit = LowerAscii(buffer.AsSpan(0, size)).LastIndexOf(needle);
            if (hit >= 0 && start + hit < from)
            {
                return LineStartOf(start + hit);
            }
            end = start;
        }
        return null;
    }

    public void Dispose() => _stream?.Dispose();

    private Stream? Open()
    {
        if (_stream is null)
        {
            try
            {
                _stream = fs.FileStream.New(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                return null;
            }
        }
        return _stream;
    }

    /// <summary>The start of the line holding the byte at <paramref name="position"/>.</summary>
    private long LineStartOf(long position)
    {
        Stream stream = _stream!;
        byte[] buffer = new byte[Chunk];
        long end = position;
        while (end > 0)
        {
            int size = (int)Math.Min(buffer.Length, end);
            stream.Seek(end - size, SeekOrigin.Begin);
            stream.ReadExactly(buffer, 0, size);
            int newline = Array.LastIndexOf(buffer, (byte)'\n', size - 1, size);
            if (newline >= 0)
            {
                return end - size + newline + 1;
            }
            end -= size;
        }
        return 0;
    }

    private static long NextLineStart(Stream stream, long from, long length, byte[] buffer)
    {
        long position = from;
        while (position < length)
        {
            stream.Seek(position, SeekOrigin.Begin);
            int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, length - position));
            int newline = Array.IndexOf(buffer, (byte)'\n', 0, read);
            if (newline >= 0)
            {
                return position + newline + 1;
            }
            position += read;
        }
        return length;
    }

    private static Span<byte> LowerAscii(Span<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] is >= (byte)'A' and <= (byte)'Z')
            {
                bytes[i] += 32;
            }
        }
        return bytes;
    }

    /// <summary>
    /// UTF-8 with invalid bytes replaced by U+FFFD; nothing else is changed: how a line is shown on a terminal (its tabs, its
    /// control characters) is the face's to decide.
    /// </summary>
    private static string Decode(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
