using System.IO.Abstractions;
using System.Text.Json;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// journal.&lt;gen&gt;.jsonl: one JSON record per line, appended and fsync'd under the state lock.
/// A last line without its newline is a torn append (a crash mid-write, never acknowledged): it is
/// ignored when read and cut off before the next append. A complete line that does not parse is damage.
/// </summary>
internal sealed class JournalFile(IFileSystem fs, string path)
{
    public string Path => path;

    /// <summary>Reads the complete lines after <paramref name="offset"/> (line <paramref name="lineNumber"/> + 1 onwards).</summary>
    public (List<JournalEntry> Entries, long Offset, int Lines) ReadFrom(long offset, int lineNumber)
    {
        List<JournalEntry> entries = [];
        if (!fs.File.Exists(path))
        {
            return (entries, offset, lineNumber);
        }
        byte[] bytes;
        using (Stream stream = fs.FileStream.New(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            if (stream.Length < offset)
            {
                throw StateCorruption.At(path, $"it is shorter ({stream.Length} bytes) than what was already read from it ({offset} bytes)");
            }
            stream.Seek(offset, SeekOrigin.Begin);
            bytes = new byte[stream.Length - offset];
            stream.ReadExactly(bytes);
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

    /// <summary>Appends one line at <paramref name="validLength"/> (cutting a torn tail) and, if <paramref name="fsync"/>, fsyncs it before returning.</summary>
    public long Append(JournalEntry entry, long validLength, bool fsync = true)
    {
        byte[] line = [.. JsonSerializer.SerializeToUtf8Bytes(entry, StoreJson.Default.JournalEntry), (byte)'\n'];
        bool created = !fs.File.Exists(path);
        using (Stream stream = fs.FileStream.New(path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            BufferSize = 0,
        }))
        {
            if (stream.Length != validLength)
            {
                stream.SetLength(validLength);
            }
            stream.Seek(validLength, SeekOrigin.Begin);
            stream.Write(line);
            if (fsync)
            {
                SnapshotFile.Fsync(stream);
            }
        }
        if (created)
        {
            Durability.SyncDirectory(fs, fs.Path.GetDirectoryName(path)!);
        }
        return validLength + line.Length;
    }

    private JournalEntry Parse(ReadOnlySpan<byte> line, int lineNumber, StoreJsonReader json)
    {
        Utf8JsonReader reader = new(line);
        try
        {
            return json.ReadJournalEntry(ref reader);
        }
        catch (JsonException e)
        {
            throw StateCorruption.At($"{path}:{lineNumber}", $"invalid at column {reader.TokenStartIndex + 1}: {e.Message}", e);
        }
    }
}
