using System.Buffers;
using System.IO.Abstractions;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// snapshot.json: replaced atomically (temp, fsync, rename, fsync dir), so a reader sees the old or
/// the new snapshot, never half of one. A header line (see <see cref="WriteTo"/>), then one run per line: a newline is
/// never inside a record, so the runs split into parts that parse in parallel, one per core.
/// </summary>
internal sealed class SnapshotFile(IFileSystem fs, StatePaths paths, Durability? durability = null)
{
    private readonly Durability _durability = durability ?? new Durability(LibcFsync.For(fs));
    internal BatchFiles Batches => new(fs, paths, _durability);

    /// <summary>The generation of the current snapshot, reading only its first bytes; 0 when there is none.</summary>
    public long ReadGeneration()
    {
        byte[] head = new byte[96];
        int read;
        try
        {
            if (!fs.File.Exists(paths.Snapshot))
            {
                return 0;
            }
            using Stream stream = Open();
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Read(paths.Snapshot, e);
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

    /// <summary>
    /// The current snapshot. <paramref name="knownEntries"/> gives the entries of a batch this process already holds: a
    /// batch's entries never change once submitted, so they are not parsed again (20,000 entries are 4.7 MB of JSON, and
    /// a waiter reloads the snapshot at every compaction of a long batch).
    /// </summary>
    /// <param name="entriesElsewhere">Where a batch's entries are found instead of its batches/&lt;id&gt;.json (a repair's tolerant read).</param>
    public Snapshot Read(Func<string, IReadOnlyList<BatchEntry>?>? knownEntries = null,
        Func<string, int?, IReadOnlyList<BatchEntry>>? entriesElsewhere = null)
    {
        byte[] bytes;
        int length;
        try
        {
            if (!fs.File.Exists(paths.Snapshot))
            {
                return new Snapshot(0, []);
            }
            using Stream stream = Open();
            // Read whole, then parse: the parts need the bytes, and parsing from the stream cost several times more. Not
            // from a pool: a pool keeps the largest buffer it was given for the process's life (RunStore collects it).
            length = checked((int)stream.Length);
            bytes = GC.AllocateUninitializedArray<byte>(length);
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Read(paths.Snapshot, e);
        }
        return Parse(bytes, length, 1 << 20, knownEntries, entriesElsewhere);
    }

    /// <summary>Parses a snapshot's bytes: its run lines in parallel, in parts of at least <paramref name="minPartBytes"/>.</summary>
    internal Snapshot Parse(byte[] bytes, int minPartBytes = 1 << 20) => Parse(bytes, bytes.Length, minPartBytes, null, null);

    private Snapshot Parse(byte[] bytes, int length, int minPartBytes, Func<string, IReadOnlyList<BatchEntry>?>? knownEntries,
        Func<string, int?, IReadOnlyList<BatchEntry>>? entriesElsewhere)
    {
        Utf8JsonReader header = new(bytes.AsSpan(0, length), ManyValues);
        (long generation, int count, List<RunRecord>? runs, List<BatchRecord> batches, long seqFloor, long batchSeqFloor, List<BatchTries>? tried, long historyGeneration) =
            Guarded(bytes, 0, ref header, static (ref r, json) => json.ReadSnapshotHeader(ref r), new StoreJsonReader
            {
                KnownEntries = knownEntries,
                EntriesElsewhere = (id, count) => knownEntries?.Invoke(id) ?? (entriesElsewhere ?? Batches.ReadEntries)(id, count),
            });
        if (runs is not null)
        {
            return new Snapshot(generation, runs, batches, seqFloor, batchSeqFloor, tried, historyGeneration);
        }
        int start = checked((int)header.BytesConsumed);
        int[] bounds = PartBounds(bytes, length, start, Math.Clamp((length - start) / minPartBytes, 1, Environment.ProcessorCount));
        List<RunRecord>[] parts = new List<RunRecord>[bounds.Length - 1];
        try
        {
            Parallel.For(0, parts.Length, i =>
            {
                Utf8JsonReader lines = new(bytes.AsSpan(bounds[i], bounds[i + 1] - bounds[i]), ManyValues);
                parts[i] = Guarded(bytes, bounds[i], ref lines, static (ref r, json) => json.ReadRecords(ref r));
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.OfType<DispatchException>().FirstOrDefault() is { } damage)
        {
            ExceptionDispatchInfo.Throw(damage);
        }
        if (parts.Sum(p => p.Count) != count)
        {
            throw StateCorruption.At(paths.Snapshot, $"its first line says {count} runs follow, but {parts.Sum(p => p.Count)} do");
        }
        List<RunRecord> all = new(count);
        foreach (List<RunRecord> part in parts)
        {
            all.AddRange(part);
        }
        return new Snapshot(generation, all, batches, seqFloor, batchSeqFloor, tried, historyGeneration);
    }

    /// <summary>Replaces the snapshot (<see cref="Stage"/>, <see cref="Publish"/>, then the directory's fsync).</summary>
    public void Write(Snapshot snapshot)
    {
        Stage(snapshot);
        Publish();
        _durability.SyncDirectory(paths.Root, "The new snapshot is in place, but may not survive a power cut.");
    }

    /// <summary>
    /// Writes <paramref name="snapshot"/> to the temp file and fsyncs it, after the entries of its batches (each batch's
    /// once, <see cref="BatchFiles"/>). On failure the temp is removed: nothing changed.
    /// </summary>
    public void Stage(Snapshot snapshot)
    {
        Batches.Ensure(snapshot.Batches ?? []);
        try
        {
            using Stream stream = fs.FileStream.New(paths.SnapshotTemp, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                Share = FileShare.ReadWrite,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                BufferSize = 1 << 16,
            });
            WriteTo(stream, snapshot);
            stream.Flush();
            _durability.Sync(stream, paths.SnapshotTemp, Unchanged);
        }
        catch (Exception e) when (e is DispatchException || IoErrors.IsIo(e))
        {
            RemoveTemp();
            throw e as DispatchException ?? StorageFailure.Write(paths.SnapshotTemp, "write", e, Unchanged);
        }
    }

    /// <summary>Renames the staged snapshot into place: one atomic rename, after which every reader sees the new snapshot.</summary>
    public void Publish()
    {
        try
        {
            fs.File.Move(paths.SnapshotTemp, paths.Snapshot, overwrite: true);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            RemoveTemp();
            throw StorageFailure.Write(paths.Snapshot, "rename a new snapshot to", e, Unchanged);
        }
    }

    /// <summary>After a new snapshot is in place: the entries of batches it no longer names are dead weight.</summary>
    public void RemoveBatchFilesBut(IReadOnlySet<string> hotBatches) => Batches.RemoveAllBut(hotBatches);

    private const string Unchanged = "The store is unchanged.";

    private void RemoveTemp()
    {
        try
        {
            fs.File.Delete(paths.SnapshotTemp);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            // A temp file left behind is harmless: the next Stage truncates it.
        }
    }

    /// <summary>
    /// The format alone: a header line, then one line per run record. The header is one object, the generation first
    /// (so it can be read cheaply), then how many run lines follow, the batches (without their entries, which are in
    /// batches/&lt;id&gt;.json, and with their entry count), the seq floors, what the hot batches' runs that went to
    /// history made of their entries (<see cref="Snapshot.Tried"/>), and history's generation. Snapshots written before
    /// held the batches whole in the header, and before that were one object, <c>{"generation": n, "runs": [...]}</c>;
    /// both still load.
    /// </summary>
    internal static void WriteTo(Stream stream, Snapshot snapshot)
    {
        // Into a buffer, not the stream: the serializer flushes its writer after each value, and a stream flush per
        // run would be a write(2) per run.
        ArrayBufferWriter<byte> lines = new(1 << 16);
        using Utf8JsonWriter json = new(lines);
        json.WriteStartObject();
        json.WriteNumber("generation"u8, snapshot.Generation);
        json.WriteNumber("count"u8, snapshot.Runs.Count);
        if (snapshot.Batches is { Count: > 0 } batches)
        {
            json.WriteStartArray("batches"u8);
            foreach (BatchRecord batch in batches)
            {
                BatchFiles.Write(json, batch, withEntries: false);
            }
            json.WriteEndArray();
        }
        if (snapshot.SeqFloor > 0)
        {
            json.WriteNumber("seq_floor"u8, snapshot.SeqFloor);
        }
        if (snapshot.BatchSeqFloor > 0)
        {
            json.WriteNumber("batch_seq_floor"u8, snapshot.BatchSeqFloor);
        }
        if (snapshot.Tried is { Count: > 0 } tried)
        {
            json.WritePropertyName("tried"u8);
            JsonSerializer.Serialize(json, tried, StoreJson.Default.IReadOnlyListBatchTries);
        }
        if (snapshot.HistoryGeneration > 0)
        {
            json.WriteNumber("history_generation"u8, snapshot.HistoryGeneration);
        }
        json.WriteEndObject();
        EndLine();
        foreach (RunRecord record in snapshot.Runs)
        {
            JsonSerializer.Serialize(json, record, StoreJson.Default.RunRecord);
            EndLine();
        }
        stream.Write(lines.WrittenSpan);

        void EndLine()
        {
            json.Flush();
            lines.Write("\n"u8);
            json.Reset();
            if (lines.WrittenCount >= 1 << 16)
            {
                stream.Write(lines.WrittenSpan);
                lines.ResetWrittenCount();
            }
        }
    }

    private static readonly JsonReaderOptions ManyValues = new() { AllowMultipleValues = true };

    /// <summary>Where each part starts: just after a line end, so each holds whole records (a newline is never inside one).</summary>
    private static int[] PartBounds(byte[] bytes, int length, int start, int parts)
    {
        int[] bounds = new int[parts + 1];
        bounds[0] = start;
        bounds[parts] = length;
        for (int i = 1; i < parts; i++)
        {
            int guess = Math.Max(bounds[i - 1], start + (int)((long)(length - start) * i / parts));
            int newline = bytes.AsSpan(guess, length - guess).IndexOf((byte)'\n');
            bounds[i] = newline < 0 ? length : guess + newline + 1;
        }
        return bounds;
    }

    private delegate T Parser<T>(ref Utf8JsonReader reader, StoreJsonReader json);

    /// <summary>Runs <paramref name="parse"/> and reports damage with the file, line and column it is at.</summary>
    private T Guarded<T>(byte[] bytes, int offset, ref Utf8JsonReader reader, Parser<T> parse, StoreJsonReader? json = null)
    {
        try
        {
            return parse(ref reader, json ?? new StoreJsonReader());
        }
        catch (JsonException e)
        {
            int at = offset + (int)reader.TokenStartIndex;
            int lineStart = bytes.AsSpan(0, at).LastIndexOf((byte)'\n') + 1;
            int line = bytes.AsSpan(0, at).Count((byte)'\n') + 1;
            throw StateCorruption.At($"{paths.Snapshot}:{line}", $"invalid at column {at - lineStart + 1}: {e.Message}", e);
        }
    }

    private FileSystemStream Open() => fs.FileStream.New(paths.Snapshot, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
}
