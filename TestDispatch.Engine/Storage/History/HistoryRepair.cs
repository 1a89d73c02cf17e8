using System.Globalization;
using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>What <see cref="HistoryRepair.Rebuild"/> did.</summary>
public sealed record HistoryRepairReport(int Segments, int Records, int LinesDropped, IReadOnlyList<string> Backups);

/// <summary>
/// <c>doctor</c>'s view of history: <see cref="Check"/> says what is wrong with index.json, the id index or a segment;
/// <see cref="Rebuild"/> (<c>doctor --repair</c>) makes a new index and id index from the segment files on disk, keeping
/// every readable line: a damaged segment is copied to a backup first and rewritten from its readable lines. The segments
/// are the truth; the index and id index are derived from them.
/// </summary>
internal sealed class HistoryRepair(IFileSystem fs, StatePaths paths, Durability durability)
{
    private readonly History _history = new(fs, paths, durability);

    /// <summary>
    /// Null when history reads well, else what is wrong, naming the file. Each segment's header and size are checked;
    /// <paramref name="everyLine"/> (what a repair asks) also reads every line, so that one garbled in place is found.
    /// With <paramref name="indexExpected"/> (the hot snapshot was written when history had an index), a missing index.json
    /// beside segments is damage; else those segments are what a crash in the first compaction left, and harmless.
    /// </summary>
    public string? Check(bool everyLine = false, bool indexExpected = false)
    {
        try
        {
            if (indexExpected && !fs.File.Exists(paths.HistoryIndex) && fs.Directory.Exists(paths.HistoryDir) &&
                fs.Directory.EnumerateFiles(paths.HistoryDir, "segment.*.jsonl").Any())
            {
                return $"{paths.HistoryIndex} is missing, but {paths.HistoryDir} holds segments: their runs are hidden until it is rebuilt";
            }
            HistoryIndex index = _history.ReadIndex();
            foreach (SegmentInfo segment in index.Segments)
            {
                string path = paths.Segment(segment.Number);
                if (!fs.File.Exists(path))
                {
                    return $"segment {path}, named by {paths.HistoryIndex}, is missing";
                }
                SegmentHeader header = _history.Segment(segment.Number).ReadHeader();
                if (header.Runs != segment.Runs || header.Batches != segment.Batches)
                {
                    return $"segment {path} holds {header.Runs} runs and {header.Batches} batches; {paths.HistoryIndex} says {segment.Runs} and {segment.Batches}";
                }
                if (fs.FileInfo.New(path).Length is long length && length != segment.Bytes)
                {
                    return $"segment {path} is {length} bytes; {paths.HistoryIndex} says {segment.Bytes}";
                }
                if (everyLine)
                {
                    foreach (var _ in _history.Segment(segment.Number).Forward())
                    {
                    }
                }
            }
            string ids = paths.IdIndex(index.Generation);
            if (index.Segments.Count > 0 && (!fs.File.Exists(ids) || fs.FileInfo.New(ids).Length % IdIndexFile.LineLength != 0))
            {
                return $"id index {ids} is missing or cut short";
            }
            return null;
        }
        catch (DispatchException e)
        {
            return e.Message;
        }
    }

    public HistoryRepairReport Rebuild(string stamp)
    {
        List<string> backups = [];
        if (!fs.Directory.Exists(paths.HistoryDir))
        {
            return new HistoryRepairReport(0, 0, 0, backups);
        }
        HistoryIndex old;
        try
        {
            old = _history.ReadIndex();
        }
        catch (DispatchException)
        {
            old = HistoryIndex.Empty;
        }
        if (fs.File.Exists(paths.HistoryIndex))
        {
            string backup = $"{paths.HistoryIndex}.corrupt-{stamp}";
            fs.File.Copy(paths.HistoryIndex, backup, overwrite: true);
            backups.Add(backup);
        }
        List<long> numbers = [.. fs.Directory.EnumerateFiles(paths.HistoryDir, "segment.*.jsonl").Select(NumberOf).Where(n => n > 0).Order()];
        long next = Math.Max(old.NextSegment, numbers.Count > 0 ? numbers[^1] + 1 : 1);
        List<SegmentInfo> segments = [];
        Dictionary<(string, char), IdEntry> current = [];
        Dictionary<string, long> replaced = new(StringComparer.Ordinal);
        int records = 0, dropped = 0;
        long seqFloor = old.SeqFloor, batchSeqFloor = old.BatchSeqFloor;
        foreach (long number in numbers)
        {
            string path = paths.Segment(number);
            (List<BatchRecord> batches, List<RunRecord> runs, int bad) = ReadTolerantly(path);
            long at = number;
            if (bad > 0)
            {
                string backup = $"{path}.corrupt-{stamp}";
                fs.File.Copy(path, backup, overwrite: true);
                backups.Add(backup);
                dropped += bad;
                at = next++;
            }
            if (runs.Count + batches.Count == 0)
            {
                continue;
            }
            // Rewritten, also when whole: the offsets for the id index come from the writer.
            (SegmentInfo info, List<IdEntry> ids) = SegmentFile.Write(fs, durability, paths, at, batches, runs);
            segments.Add(info);
            records += ids.Count;
            foreach (IdEntry id in ids)
            {
                if (current.ContainsKey((id.Id, id.Kind)))
                {
                    replaced[$"{id.Kind}:{id.Id}"] = id.Segment; // a later segment holds the newer copy
                }
                current[(id.Id, id.Kind)] = id;
            }
            seqFloor = Math.Max(seqFloor, info.LastSeq);
            batchSeqFloor = Math.Max(batchSeqFloor, batches.Count > 0 ? batches.Max(b => b.Seq) : 0);
        }
        HistoryIndex index = new()
        {
            // Above every generation ever used (readers cache the index by it), also when index.json was unreadable.
            Generation = Math.Max(old.Generation, fs.Directory.EnumerateFiles(paths.HistoryDir, "ids.*.idx").Select(NumberOf).DefaultIfEmpty(0).Max()) + 1,
            NextSegment = next,
            SeqFloor = seqFloor,
            BatchSeqFloor = batchSeqFloor,
            Segments = segments,
            Replaced = replaced.Count > 0 ? replaced : null,
        };
        AtomicFile.Write(fs, durability, paths.IdIndex(index.Generation),
            stream => IdIndexFile.WriteMerged(stream, [], [.. current.Values]), "History was not repaired.");
        AtomicFile.Write(fs, durability, paths.HistoryIndex,
            stream => JsonSerializer.Serialize(stream, index, StoreJson.Default.HistoryIndex), "History was not repaired.");
        durability.SyncDirectory(paths.HistoryDir, "The repaired history may not survive a power cut.");
        foreach (long number in numbers.Where(n => segments.All(s => s.Number != n)))
        {
            AtomicFile.TryDelete(fs, paths.Segment(number));
        }
        _history.RemoveLeftovers(index);
        return new HistoryRepairReport(segments.Count, records, dropped, backups);
    }

    private (List<BatchRecord> Batches, List<RunRecord> Runs, int Bad) ReadTolerantly(string path)
    {
        List<BatchRecord> batches = [];
        List<RunRecord> runs = [];
        int bad = 0;
        byte[] bytes = fs.File.ReadAllBytes(path);
        ReadOnlySpan<byte> rest = bytes;
        StoreJsonReader json = new();
        bool header = true;
        while (rest.Length > 0)
        {
            int end = rest.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end >= 0 ? rest[..end] : rest;
            rest = end >= 0 ? rest[(end + 1)..] : [];
            if (header)
            {
                header = false;
                if (line.StartsWith("{\"segment\""u8))
                {
                    continue;
                }
                bad++;
            }
            try
            {
                Utf8JsonReader reader = new(line);
                JournalEntry entry = json.ReadJournalEntry(ref reader);
                if (entry.Run is { } run)
                {
                    runs.Add(run);
                }
                else if (entry.Batch is { } batch)
                {
                    batches.Add(batch);
                }
            }
            catch (Exception e) when (e is JsonException or DispatchException or InvalidOperationException)
            {
                bad++;
            }
        }
        runs.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        return (batches, runs, bad);
    }

    private long NumberOf(string path)
    {
        string[] parts = fs.Path.GetFileName(path).Split('.'); // segment.<n>.jsonl
        return parts.Length == 3 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : -1;
    }
}
