using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// journal.&lt;gen&gt;.jsonl: one JSON record per line, appended and fsync'd under the state lock. A last line without its
/// newline is a torn append (a crash mid-write, never acknowledged): it is ignored when read and cut off before the next
/// append. A complete line that does not parse is damage. An append that could not be made durable is taken back (cut off
/// again, under the lock), so no other process reads as recorded what its writer was told failed.
/// </summary>
internal sealed class JournalFile(IFileSystem fs, string path, Durability? durability = null)
{
    private readonly Durability _durability = durability ?? new Durability(LibcFsync.For(fs));

    public string Path => path;

    /// <summary>Reads the complete lines after <paramref name="offset"/> (line <paramref name="lineNumber"/> + 1 onwards).</summary>
    public (List<JournalEntry> Entries, long Offset, int Lines) ReadFrom(long offset, int lineNumber)
    {
        List<JournalEntry> entries = [];
        byte[] bytes;
        try
        {
            if (!fs.File.Exists(path))
            {
                return (entries, offset, lineNumber);
            }
            using Stream stream = fs.FileStream.New(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length < offset)
            {
                throw Shorter(stream.Length, offset);
            }
            stream.Seek(offset, SeekOrigin.Begin);
            bytes = new byte[stream.Length - offset];
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Read(path, e);
        }
        StoreJsonReader json = new();
        ReadOnlySpan<byte> rest = bytes;
        while (rest.IndexOf((byte)'\n') is var end and >= 0)
        {
            lineNumber++;
            ReadOnlySpan<byte> line = rest[..end];
            entries.Add(Parse(line, lineNumber, json));
            offset += end + 1;
            rest = rest[(end + 1)..];
        }
        return (entries, offset, lineNumber);
    }

    /// <summary>
    /// Appends one line at <paramref name="validLength"/>, the end of what this process has read, and, if
    /// <paramref name="fsync"/>, fsyncs it (and the directory, for a new file) before returning. Bytes after that end are
    /// cut off only when they are a torn tail (no newline); complete lines there, or a file shorter than that, are
    /// state_corrupt. If the write or an fsync fails, the line is taken back and the error says nothing was recorded.
    /// </summary>
    public long Append(JournalEntry entry, long validLength, bool fsync = true)
    {
        FileSystemStream stream;
        bool created;
        try
        {
            created = !fs.File.Exists(path);
            stream = fs.FileStream.New(path, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.ReadWrite | FileShare.Delete,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                BufferSize = 0,
            });
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Write(path, "open", e, StorageFailure.NothingRecorded);
        }
        long end;
        using (stream)
        {
            bool writing = false;
            try
            {
                CutTornTail(stream, validLength);
                writing = true; // from here on, bytes of this line may be in the file
                stream.Seek(validLength, SeekOrigin.Begin);
                end = WriteLine(stream, entry);
                if (fsync)
                {
                    _durability.Sync(stream, path, StorageFailure.NothingRecorded);
                    if (created)
                    {
                        _durability.SyncDirectory(System.IO.Path.GetDirectoryName(path)!, StorageFailure.NothingRecorded);
                    }
                }
            }
            catch (DispatchException e) when (e.ErrorCode == ErrorCodes.StateCorrupt)
            {
                throw;
            }
            catch (Exception e) when (e is DispatchException || IoErrors.IsIo(e))
            {
                DispatchException failure = e as DispatchException ?? StorageFailure.Write(path, writing ? "write" : "check the end of", e, StorageFailure.NothingRecorded);
                throw writing ? TakeBack(stream, validLength, fsync, failure) : failure;
            }
        }
        return end;
    }

    /// <summary>
    /// The entry as one line, newline last, written onto the file as it is serialized. A batch's line is megabytes (a
    /// plan of 20,000 entries: 4.7 MB), which the serializer would hold whole in a pooled buffer that stays: its
    /// entries go out one by one, in 64 KiB writes. A line cut short by a crash is a torn tail either way.
    /// </summary>
    private static long WriteLine(Stream stream, JournalEntry entry)
    {
        using (Utf8JsonWriter writer = new(stream))
        {
            if (entry.Batch is { } batch)
            {
                WriteBatch(writer, batch);
            }
            else
            {
                JsonSerializer.Serialize(writer, entry, StoreJson.Default.JournalEntry);
            }
        }
        stream.WriteByte((byte)'\n');
        return stream.Position;
    }

    /// <summary><c>{"batch": record}</c>, as the generated serializer writes it, with the entries flushed as they go.</summary>
    private static void WriteBatch(Utf8JsonWriter writer, BatchRecord batch)
    {
        writer.WriteStartObject();
        writer.WritePropertyName("batch"u8);
        BatchFiles.Write(writer, batch, withEntries: true);
        writer.WriteEndObject();
    }

    /// <summary>Cuts off what a crashed append left after the last newline; refuses to cut anything else.</summary>
    private void CutTornTail(FileSystemStream stream, long validLength)
    {
        long length = stream.Length;
        if (length < validLength)
        {
            throw Shorter(length, validLength);
        }
        if (length == validLength)
        {
            return;
        }
        byte[] tail = new byte[length - validLength];
        stream.Seek(validLength, SeekOrigin.Begin);
        stream.ReadExactly(tail);
        if (tail.AsSpan().Contains((byte)'\n'))
        {
            throw new DispatchException(ErrorCodes.StateCorrupt,
                $"journal {path} changed under this process: it holds complete lines after offset {validLength}, where this process had " +
                "read up to while holding state.lock. Another process wrote to it without holding the lock (is the state dir on a mount " +
                "whose locks are not shared between hosts, or was state.lock replaced?). Nothing was written and nothing was cut off; " +
                "run the command again.");
        }
        stream.SetLength(validLength);
    }

    /// <summary>
    /// After a failed append: cuts the file back to <paramref name="validLength"/>, so the line (whole if only the fsync
    /// failed) is read by no one. If even that fails, the error says the line may still be read as recorded.
    /// </summary>
    private DispatchException TakeBack(FileSystemStream stream, long validLength, bool fsync, DispatchException failure)
    {
        string why;
        try
        {
            stream.SetLength(validLength);
            int errno = fsync ? _durability.Fsync(stream) : 0;
            if (errno == 0)
            {
                return failure;
            }
            why = $"fsync: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}";
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            why = e.Message;
        }
        return new DispatchException(failure.ErrorCode,
            $"{failure.Message} The line could not be taken back either ({why}): other processes may read it as recorded; " +
            "'testdispatch runs' shows whether it was, once the disk works again.", inner: failure);
    }

    private DispatchException Shorter(long length, long offset) =>
        StateCorruption.At(path, $"it is {length} bytes long, shorter than the {offset} bytes already read from it: something cut it at offset {length}");

    private JournalEntry Parse(ReadOnlySpan<byte> line, int lineNumber, StoreJsonReader json) => json.ReadLine(line, $"{path}:{lineNumber}");
}
