using System.Buffers;
using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// history/segment.&lt;n&gt;.jsonl: an immutable part of history, plain JSON lines (<c>jq</c> reads it): a
/// <see cref="SegmentHeader"/> line, the batches that went to history with it, then its runs in seq order, each line a
/// journal entry as in journal.&lt;gen&gt;.jsonl. Written once, whole (temp, fsync, rename); read forwards (filtered
/// listings, stream with bounded memory), backwards (newest-first pages read only what they show) or one line at an
/// offset the id index gives (show).
/// </summary>
internal sealed class SegmentFile(IFileSystem fs, string path)
{
    private const int Chunk = 1 << 16;

    public string Path => path;

    /// <summary>Writes a segment of <paramref name="runs"/> (seq order) and <paramref name="batches"/>; returns what the index keeps of it.</summary>
    public static (SegmentInfo Info, List<IdEntry> Ids) Write(IFileSystem fs, Durability durability, StatePaths paths, long number,
        IReadOnlyList<BatchRecord> batches, IReadOnlyList<RunRecord> runs)
    {
        List<IdEntry> ids = new(runs.Count + batches.Count);
        long bytes = 0;
        AtomicFile.Write(fs, durability, paths.Segment(number), stream =>
        {
            ArrayBufferWriter<byte> buffer = new(Chunk);
            using Utf8JsonWriter json = new(buffer);
            long offset = 0;
            void Line<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
            {
                JsonSerializer.Serialize(json, value, type);
                json.Flush();
                buffer.Write("\n"u8);
                json.Reset();
                offset += buffer.WrittenCount;
                stream.Write(buffer.WrittenSpan);
                buffer.ResetWrittenCount();
            }
            Line(new SegmentHeader(number, runs.Count, batches.Count, runs.Count > 0 ? runs[0].Seq : 0, runs.Count > 0 ? runs[^1].Seq : 0),
                StoreJson.Default.SegmentHeader);
            foreach (BatchRecord batch in batches)
            {
                ids.Add(new IdEntry(batch.Id, 'b', number, offset));
                Line(new JournalEntry(null, batch), StoreJson.Default.JournalEntry);
            }
            foreach (RunRecord run in runs)
            {
                ids.Add(new IdEntry(run.Id, 'r', number, offset));
                Line(new JournalEntry(run), StoreJson.Default.JournalEntry);
            }
            bytes = offset;
        }, "The segment was not written; history is unchanged.");
        DateTimeOffset?[] ends = [.. runs.Select(r => r.Run.EndedAt ?? (DateTimeOffset?)r.CreatedAt)];
        SegmentInfo info = new(number, runs.Count, batches.Count,
            runs.Count > 0 ? runs.Min(r => r.Seq) : 0, runs.Count > 0 ? runs.Max(r => r.Seq) : 0,
            ends.Min(), ends.Max(), bytes, [.. batches.Select(b => new BatchSeq(b.Id, b.Seq))],
            RunsOfOtherBatches(batches, runs));
        return (info, ids);
    }

    /// <summary>The batches with runs in <paramref name="runs"/> whose record is not in <paramref name="batches"/>; null if none.</summary>
    private static List<string>? RunsOfOtherBatches(IReadOnlyList<BatchRecord> batches, IReadOnlyList<RunRecord> runs)
    {
        HashSet<string> here = [.. batches.Select(b => b.Id)];
        List<string> others = [.. runs.Select(r => r.Run.BatchId).OfType<string>().Where(id => !here.Contains(id)).Distinct(StringComparer.Ordinal)];
        return others.Count > 0 ? others : null;
    }

    /// <summary>The record on the line at <paramref name="offset"/>.</summary>
    public JournalEntry ReadAt(long offset)
    {
        using Stream stream = Open(bufferSize: 0);
        stream.Seek(offset, SeekOrigin.Begin);
        byte[] buffer = new byte[4096];
        int filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }
            int read = stream.Read(buffer, filled, buffer.Length - filled);
            int end = buffer.AsSpan(filled, read).IndexOf((byte)'\n');
            filled += read;
            if (end >= 0 || read == 0)
            {
                int length = end >= 0 ? filled - read + end : filled;
                return Parse(buffer.AsSpan(0, length), offset, new StoreJsonReader());
            }
        }
    }

    /// <summary>Every record, first to last, with the offset of its line: one chunk in memory at a time.</summary>
    public IEnumerable<(JournalEntry Entry, long Offset)> Forward()
    {
        using Stream stream = Open(bufferSize: 0);
        StoreJsonReader json = new();
        byte[] buffer = new byte[Chunk];
        int start = 0, filled = 0;
        long position = 0; // file offset of buffer[0]
        bool header = true;
        while (true)
        {
            int newline = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n');
            if (newline < 0)
            {
                // Keep the partial line, then read more (growing the buffer for a line longer than it).
                int rest = filled - start;
                if (rest == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                else
                {
                    buffer.AsSpan(start, rest).CopyTo(buffer);
                }
                position += start;
                start = 0;
                filled = rest;
                int read = stream.Read(buffer, filled, buffer.Length - filled);
                if (read == 0)
                {
                    yield break; // a segment is renamed in whole: no torn tail to worry about
                }
                filled += read;
                continue;
            }
            long offset = position + start;
            ReadOnlyMemory<byte> line = buffer.AsMemory(start, newline);
            start += newline + 1;
            if (header)
            {
                header = false;
                continue;
            }
            yield return (Parse(line.Span, offset, json), offset);
        }
    }

    /// <summary>The runs, newest (highest seq) first, reading the file from its end: a page costs the lines it shows.</summary>
    public IEnumerable<RunRecord> RunsBackward()
    {
        using Stream stream = Open(bufferSize: 0);
        int runs = ReadHeader(stream).Runs;
        StoreJsonReader json = new();
        long end = stream.Length; // offset just past the last unread line's newline
        byte[] buffer = new byte[Chunk];
        byte[] carry = [];
        int yielded = 0;
        while (end > 0 && yielded < runs)
        {
            long from = Math.Max(0, end - Chunk);
            int length = (int)(end - from);
            stream.Seek(from, SeekOrigin.Begin);
            stream.ReadExactly(buffer, 0, length);
            // Join with the start of the line cut at the previous chunk's beginning.
            byte[] block = carry.Length == 0 ? buffer[..length] : [.. buffer.AsSpan(0, length), .. carry];
            int stop = block.Length;
            if (block[stop - 1] == (byte)'\n')
            {
                stop--;
            }
            while (yielded < runs)
            {
                int newline = block.AsSpan(0, stop).LastIndexOf((byte)'\n');
                if (newline < 0 && from > 0)
                {
                    break;
                }
                JournalEntry entry = Parse(block.AsSpan(newline + 1, stop - newline - 1), from + newline + 1, json);
                yielded++;
                yield return entry.Run ?? throw StateCorruption.At(path, "a batch line is among its runs");
                stop = newline;
                if (newline < 0)
                {
                    break;
                }
            }
            carry = block[..Math.Max(stop, 0)];
            end = from;
        }
    }

    public SegmentHeader ReadHeader()
    {
        using Stream stream = Open(bufferSize: 0);
        return ReadHeader(stream);
    }

    private SegmentHeader ReadHeader(Stream stream)
    {
        byte[] head = new byte[512];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        int newline = head.AsSpan(0, read).IndexOf((byte)'\n');
        try
        {
            return newline < 0 ? throw new JsonException("no header line")
                : JsonSerializer.Deserialize(head.AsSpan(0, newline), StoreJson.Default.SegmentHeader) ?? throw new JsonException("null header");
        }
        catch (JsonException e)
        {
            throw StateCorruption.At($"{path}:1", $"not a segment header: {e.Message}", e);
        }
    }

    private JournalEntry Parse(ReadOnlySpan<byte> line, long offset, StoreJsonReader json) => json.ReadLine(line, $"{path}@{offset}");

    private Stream Open(int bufferSize)
    {
        try
        {
            return fs.FileStream.New(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete, BufferSize = bufferSize });
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Read(path, e);
        }
    }
}
