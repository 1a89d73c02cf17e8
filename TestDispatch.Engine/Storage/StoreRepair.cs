using System.Globalization;
using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>What <see cref="StoreRepair"/> did: the backups it made, what it kept and what it could not read.</summary>
/// <param name="EntriesLost">Batches whose entries (batches/&lt;id&gt;.json) were unreadable: kept, with their runs, but without entries.</param>
public sealed record RepairReport(bool WasDamaged, IReadOnlyList<string> Backups, int RunsKept, int LinesDropped, bool SnapshotLost,
    HistoryRepairReport? History = null, IReadOnlyList<string>? EntriesLost = null);

/// <summary>
/// <c>doctor --repair</c>: rebuilds a damaged store from whatever is still readable (docs/DESIGN.md §4.5). Every
/// state file is first copied to a timestamped backup, never silently replaced; then the readable runs
/// (the snapshot if it parses, plus every journal line that parses) become a new snapshot. A healthy
/// store is left untouched. History (segments, index.json, the id index) is checked too and, if damaged, rebuilt from
/// its segments by <see cref="HistoryRepair"/>.
/// </summary>
public static class StoreRepair
{
    public static RepairReport Repair(IFileSystem fs, IFileLocks locks, string stateDir, TimeProvider? clock = null)
    {
        StatePaths paths = new(fs.Path.GetFullPath(stateDir));
        using IDisposable held = StateLock.Acquire(locks, paths, TimeSpan.FromSeconds(30));
        SnapshotFile snapshotFile = new(fs, paths);

        Snapshot? snapshot = null;
        List<string> entriesLost = [];
        try
        {
            // A batch whose entries file is lost keeps its record and its runs: losing the whole snapshot for it would be worse.
            snapshot = snapshotFile.Read(entriesElsewhere: (id, count) =>
            {
                try
                {
                    return snapshotFile.Batches.ReadEntries(id, count);
                }
                catch (DispatchException e) when (e.ErrorCode == ErrorCodes.StateCorrupt)
                {
                    entriesLost.Add(id);
                    return [];
                }
            });
        }
        catch (DispatchException e) when (e.ErrorCode == ErrorCodes.StateCorrupt)
        {
        }

        List<(long Generation, string Path)> journals = [.. fs.Directory.EnumerateFiles(paths.Root, "journal.*.jsonl")
            .Select(path => (Generation: GenerationOf(fs, path), Path: path))
            .Where(j => j.Generation >= 0 && (snapshot is null || j.Generation >= snapshot.Generation))
            .OrderBy(j => j.Generation)];

        Dictionary<string, RunRecord> runs = new(StringComparer.Ordinal);
        foreach (RunRecord record in snapshot?.Runs ?? [])
        {
            runs[record.Id] = record;
        }
        Dictionary<string, BatchRecord> batches = new(StringComparer.Ordinal);
        foreach (BatchRecord batch in snapshot?.Batches ?? [])
        {
            batches[batch.Id] = batch;
        }
        int dropped = 0;
        foreach ((_, string path) in journals)
        {
            dropped += ReadTolerantly(fs.File.ReadAllBytes(path), runs, batches);
        }

        string stamp = (clock ?? TimeProvider.System).GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        Durability durability = new(LibcFsync.For(fs));
        HistoryRepair history = new(fs, paths, durability);
        HistoryRepairReport? historyReport = history.Check(everyLine: true, indexExpected: snapshot?.HistoryGeneration > 0) is null ? null : history.Rebuild(stamp);
        HistoryIndex historyIndex = new History(fs, paths, durability).ReadIndex();

        bool damaged = snapshot is null && fs.File.Exists(paths.Snapshot) || dropped > 0 || entriesLost.Count > 0;
        if (!damaged)
        {
            return new RepairReport(historyReport is not null, historyReport?.Backups ?? [], runs.Count, historyReport?.LinesDropped ?? 0, false, historyReport);
        }

        List<string> backups = [];
        foreach (string file in journals.Select(j => j.Path).Prepend(paths.Snapshot).Concat(entriesLost.Select(paths.BatchFile)).Where(fs.File.Exists))
        {
            string backup = $"{file}.corrupt-{stamp}";
            fs.File.Copy(file, backup, overwrite: true);
            backups.Add(backup);
        }

        foreach (string id in entriesLost)
        {
            AtomicFile.TryDelete(fs, paths.BatchFile(id)); // backed up above; the new snapshot writes it again, without entries
        }
        long generation = Math.Max(snapshot?.Generation ?? 0, journals.Count > 0 ? journals[^1].Generation : 0) + 1;
        snapshotFile.Write(new Snapshot(generation, [.. runs.Values.OrderBy(r => r.Seq)], [.. batches.Values.OrderBy(b => b.Seq)],
            Math.Max(snapshot?.SeqFloor ?? 0, historyIndex.SeqFloor), Math.Max(snapshot?.BatchSeqFloor ?? 0, historyIndex.BatchSeqFloor),
            snapshot?.Tried, historyIndex.Generation));
        foreach ((_, string path) in journals)
        {
            fs.File.Delete(path);
        }
        return new RepairReport(true, [.. backups, .. historyReport?.Backups ?? []], runs.Count, dropped, snapshot is null, historyReport, entriesLost.Count > 0 ? entriesLost : null);
    }

    /// <summary>Applies every complete line that parses; returns how many complete lines did not. A torn last line is not counted.</summary>
    private static int ReadTolerantly(byte[] bytes, Dictionary<string, RunRecord> runs, Dictionary<string, BatchRecord> batches)
    {
        int dropped = 0;
        ReadOnlySpan<byte> rest = bytes;
        StoreJsonReader json = new();
        while (rest.IndexOf((byte)'\n') is var end and >= 0)
        {
            try
            {
                Utf8JsonReader reader = new(rest[..end]);
                JournalEntry entry = json.ReadJournalEntry(ref reader);
                if (entry.Run is { } record)
                {
                    runs[record.Id] = record;
                }
                else
                {
                    batches[entry.Batch!.Id] = entry.Batch;
                }
            }
            catch (Exception e) when (e is JsonException or DispatchException or InvalidOperationException)
            {
                dropped++;
            }
            rest = rest[(end + 1)..];
        }
        return dropped;
    }

    private static long GenerationOf(IFileSystem fs, string path)
    {
        string name = fs.Path.GetFileName(path); // journal.<gen>.jsonl
        string[] parts = name.Split('.');
        return parts.Length == 3 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long generation) ? generation : -1;
    }
}
