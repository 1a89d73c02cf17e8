using System.IO.Abstractions;
using System.Text.Json;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// snapshot.json: replaced atomically (temp, fsync, rename, fsync dir), so a reader sees the old or
/// the new snapshot, never half of one.
/// </summary>
internal sealed class SnapshotFile(IFileSystem fs, StatePaths paths)
{
    /// <summary>The generation of the current snapshot, reading only its first bytes; 0 when there is none.</summary>
    public long ReadGeneration()
    {
        if (!fs.File.Exists(paths.Snapshot))
        {
            return 0;
        }
        byte[] head = new byte[96];
        int read;
        using (Stream stream = Open())
        {
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        try
        {
            Utf8JsonReader reader = new(head.AsSpan(0, read), isFinalBlock: false, state: default);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject &&
                reader.Read() && reader.ValueTextEquals("generation"u8) &&
                reader.Read() && reader.TokenType == JsonTokenType.Number)
            {
                return reader.GetInt64();
            }
        }
        catch (JsonException)
        {
        }
        throw StateCorruption.At(paths.Snapshot, "it does not start with a generation number");
    }

    public Snapshot Read()
    {
        if (!fs.File.Exists(paths.Snapshot))
        {
            return new Snapshot(0, []);
        }
        try
        {
            using Stream stream = Open();
            return JsonSerializer.Deserialize(stream, StoreJson.Default.Snapshot)
                ?? throw StateCorruption.At(paths.Snapshot, "it holds null");
        }
        catch (JsonException e)
        {
            throw StateCorruption.At(paths.Snapshot, $"invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    public void Write(Snapshot snapshot)
    {
        using (Stream stream = fs.FileStream.New(paths.SnapshotTemp, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            BufferSize = 1 << 16,
        }))
        {
            JsonSerializer.Serialize(stream, snapshot, StoreJson.Default.Snapshot);
            stream.Flush();
            Fsync(stream);
        }
        fs.File.Move(paths.SnapshotTemp, paths.Snapshot, overwrite: true);
        Durability.SyncDirectory(fs, paths.Root);
    }

    private FileSystemStream Open() => fs.FileStream.New(paths.Snapshot, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    internal static void Fsync(Stream stream)
    {
        if (stream is FileSystemStream fileStream)
        {
            fileStream.Flush(flushToDisk: true);
        }
        else
        {
            stream.Flush();
        }
    }
}
