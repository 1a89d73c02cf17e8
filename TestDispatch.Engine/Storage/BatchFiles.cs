using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// batches/&lt;id&gt;.json: a hot batch's record with its entries, as one JSON object. A plan's entries never change once
/// submitted, but snapshot.json is rewritten at every compaction and read whole by every process that loads it: with a
/// 20,000-entry batch open, 4.7 MB of each snapshot was that one plan, written again and parsed again by every waiter at
/// every compaction. So the snapshot names its batches without their entries, and each batch's entries are written
/// here once, atomically and fsync'd, before the first snapshot that relies on them is published; a file is removed
/// only after a snapshot that no longer names its batch is in place. Journal lines and history segments keep their
/// batches whole (a journal line is written once; a segment is immutable).
/// </summary>
internal sealed class BatchFiles(IFileSystem fs, StatePaths paths, Durability durability)
{
    /// <summary>Writes the file of each of <paramref name="batches"/> that has none yet (then fsyncs the directory once).</summary>
    public void Ensure(IEnumerable<BatchRecord> batches)
    {
        bool wrote = false;
        foreach (BatchRecord batch in batches)
        {
            string path = paths.BatchFile(batch.Id);
            if (fs.File.Exists(path))
            {
                continue;
            }
            if (!wrote)
            {
                try
                {
                    StateDirectory.CreatePrivate(fs, paths.BatchesDir);
                }
                catch (Exception e) when (IoErrors.IsIo(e))
                {
                    throw StorageFailure.Write(paths.BatchesDir, "create", e, "The store is unchanged.");
                }
            }
            AtomicFile.Write(fs, durability, path, stream =>
            {
                using Utf8JsonWriter writer = new(stream);
                Write(writer, batch, withEntries: true);
            }, "The store is unchanged.");
            wrote = true;
        }
        if (wrote)
        {
            durability.SyncDirectory(paths.BatchesDir, "A batch's entries may not survive a power cut; the store is unchanged.");
        }
    }

    /// <summary>The entries of batch <paramref name="id"/>, which a snapshot says are <paramref name="count"/>; damage is state_corrupt.</summary>
    public IReadOnlyList<BatchEntry> ReadEntries(string id, int? count)
    {
        string path = paths.BatchFile(id);
        byte[] bytes;
        try
        {
            if (!fs.File.Exists(path))
            {
                throw StateCorruption.At(path, $"it is missing, but {paths.Snapshot} names batch {id}, whose entries it holds");
            }
            bytes = fs.File.ReadAllBytes(path);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Read(path, e);
        }
        BatchRecord batch;
        try
        {
            Utf8JsonReader reader = new(bytes);
            reader.Read();
            batch = new StoreJsonReader().ReadBatchRecord(ref reader);
            reader.ExpectEnd(path);
        }
        catch (JsonException e)
        {
            throw StateCorruption.At(path, e.Message, e);
        }
        if (batch.Id != id || (count is { } expected && batch.Entries.Count != expected))
        {
            throw StateCorruption.At(path, $"it holds batch {batch.Id} with {batch.Entries.Count} entries; {paths.Snapshot} names batch {id} with {count}");
        }
        return batch.Entries;
    }

    /// <summary>Removes the files of batches not in <paramref name="keep"/> (those that left the hot state) and crash leftovers, never a backup.</summary>
    public void RemoveAllBut(IReadOnlySet<string> keep)
    {
        if (!fs.Directory.Exists(paths.BatchesDir))
        {
            return;
        }
        foreach (string file in fs.Directory.EnumerateFiles(paths.BatchesDir))
        {
            string name = fs.Path.GetFileName(file);
            if (!name.Contains(".corrupt-", StringComparison.Ordinal) && // doctor --repair's backups stay
                !(name.EndsWith(".json", StringComparison.Ordinal) && keep.Contains(name[..^".json".Length])))
            {
                AtomicFile.TryDelete(fs, file);
            }
        }
    }

    /// <summary>
    /// A batch record as the generated serializer writes it (the same bytes), its entries streamed out one by one so a
    /// plan of 20,000 entries is never one buffer; <paramref name="withEntries"/> false writes their count instead.
    /// </summary>
    public static void Write(Utf8JsonWriter writer, BatchRecord batch, bool withEntries)
    {
        writer.WriteStartObject();
        writer.WriteString("id"u8, batch.Id);
        writer.WriteString("name"u8, batch.Name);
        writer.WriteString("plan"u8, batch.Plan);
        writer.WriteNumber("seq"u8, batch.Seq);
        writer.WriteString("created_at"u8, batch.CreatedAt);
        if (batch.CancelledAt is { } cancelled)
        {
            writer.WriteString("cancelled_at"u8, cancelled);
        }
        if (batch.RerunOf is { } rerunOf)
        {
            writer.WriteString("rerun_of"u8, rerunOf);
        }
        if (batch.InPlanOrder)
        {
            writer.WriteBoolean("in_plan_order"u8, true);
        }
        if (!withEntries)
        {
            writer.WriteNumber("entry_count"u8, batch.Entries.Count);
            writer.WriteEndObject();
            return;
        }
        writer.WriteStartArray("entries"u8);
        foreach (BatchEntry item in batch.Entries)
        {
            JsonSerializer.Serialize(writer, item, StoreJson.Default.BatchEntry);
            if (writer.BytesPending > 1 << 16)
            {
                writer.Flush();
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
