using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The store's history (docs/DESIGN.md §5): runs and batches that can no longer change the work of the lab, moved out of the hot
/// snapshot by compaction into immutable segments (<see cref="SegmentFile"/>), named by history/index.json
/// (<see cref="HistoryIndex"/>), with a sorted id index (<see cref="IdIndexFile"/>) for finding one by id or prefix.
/// Only history queries read it; what every command needs stays in snapshot.json and the journal. Writes happen under
/// state.lock, in an order where a crash at any point leaves a readable history that lost nothing acknowledged: new files
/// first (each temp, fsync, rename), then the index that names them, then the directory's fsync; files the index no
/// longer names are removed last.
/// </summary>
internal sealed class History(IFileSystem fs, StatePaths paths, Durability durability)
{
    private const string Unchanged = "History is unchanged.";

    // index.json is read by every id check of a new run: it is parsed again only when its generation (its first field,
    // larger at every publish) changed, so that check costs a read of its first bytes, not of the whole index.
    private HistoryIndex? _cached;

    public HistoryIndex ReadIndex()
    {
        byte[] bytes;
        try
        {
            if (!fs.File.Exists(paths.HistoryIndex))
            {
                return HistoryIndex.Empty;
            }
            using (Stream stream = fs.FileStream.New(paths.HistoryIndex, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                byte[] head = new byte[64];
                int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
                if (_cached is { } cached && GenerationIn(head.AsSpan(0, read)) == cached.Generation)
                {
                    return cached;
                }
                bytes = new byte[stream.Length];
                stream.Seek(0, SeekOrigin.Begin);
                stream.ReadExactly(bytes);
            }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Read(paths.HistoryIndex, e);
        }
        try
        {
            HistoryIndex index = JsonSerializer.Deserialize(bytes, StoreJson.Default.HistoryIndex) ?? throw new JsonException("null");
            _cached = index;
            return index;
        }
        catch (JsonException e)
        {
            throw StateCorruption.At(paths.HistoryIndex, e.Message, e);
        }
    }

    /// <summary>The generation at the start of index.json's bytes (written first), or -1.</summary>
    private static long GenerationIn(ReadOnlySpan<byte> head)
    {
        try
        {
            Utf8JsonReader reader = new(head, isFinalBlock: false, state: default);
            return reader.Read() && reader.TokenType == JsonTokenType.StartObject && reader.Read() && reader.ValueTextEquals("generation"u8) &&
                reader.Read() && reader.TokenType == JsonTokenType.Number ? reader.GetInt64() : -1;
        }
        catch (JsonException)
        {
            return -1;
        }
    }

    public IdIndexFile Ids(HistoryIndex index) => new(fs, paths.IdIndex(index.Generation), required: index.Segments.Count > 0);

    public SegmentFile Segment(long number) => new(fs, paths.Segment(number));

    /// <summary>A segment as it is now; null if prune removed it since the index was read (its runs are gone).</summary>
    private SegmentFile? Existing(long number) => fs.File.Exists(paths.Segment(number)) ? Segment(number) : null;

    /// <summary>A walk of <paramref name="index"/> after the lock, with <paramref name="shared"/> on history.lock (call under state.lock).</summary>
    public HistoryHold Hold(HistoryIndex index, IDisposable? shared) => new(fs, paths, index, shared);

    /// <summary>History's copies of up to <paramref name="max"/> runs whose id starts with <paramref name="prefix"/>.</summary>
    public List<RunRecord> FindRuns(HistoryIndex index, string prefix, int max = 5) =>
        index.Segments.Count == 0 ? [] : [.. Ids(index).Find(prefix, 'r', max).Select(e => Segment(e.Segment).ReadAt(e.Offset).Run!)];

    public List<BatchRecord> FindBatches(HistoryIndex index, string prefix, int max = 5) =>
        index.Segments.Count == 0 ? [] : [.. Ids(index).Find(prefix, 'b', max).Select(e => Segment(e.Segment).ReadAt(e.Offset).Batch!)];

    /// <summary>Whether history holds a run or batch with exactly this id (so a new one never takes it).</summary>
    public bool Holds(HistoryIndex index, string id) =>
        index.Segments.Count > 0 && Ids(index).Find(id, 'r', 1).Concat(Ids(index).Find(id, 'b', 1)).Any(e => e.Id == id);

    /// <summary>
    /// Every run in history as <paramref name="hold"/> has it, newest (highest seq) first: a merge of the segments read
    /// backwards, each read only once the merge reaches its newest run, so memory stays one chunk per segment under way
    /// whatever the history size.
    /// </summary>
    public IEnumerable<RunRecord> NewestFirst(HistoryHold hold)
    {
        HistoryIndex index = hold.Index;
        List<SegmentInfo> segments = [.. index.Segments.Where(s => s.Runs > 0).OrderByDescending(s => s.LastSeq)];
        PriorityQueue<(IEnumerator<RunRecord> Runs, long Segment), long> heap = new();
        List<IEnumerator<RunRecord>> opened = [];
        int next = 0;
        try
        {
            while (true)
            {
                while (next < segments.Count && (heap.Count == 0 || heap.TryPeek(out _, out long top) && segments[next].LastSeq >= -top))
                {
                    SegmentInfo segment = segments[next++];
                    IEnumerator<RunRecord> runs = hold.Segment(segment.Number).RunsBackward().GetEnumerator();
                    opened.Add(runs);
                    Advance((runs, segment.Number));
                }
                if (!heap.TryDequeue(out (IEnumerator<RunRecord> Runs, long Segment) head, out _))
                {
                    yield break;
                }
                RunRecord run = head.Runs.Current;
                Advance(head);
                if (!index.IsStale('r', run.Id, head.Segment))
                {
                    yield return run;
                }
            }
        }
        finally
        {
            foreach (IEnumerator<RunRecord> runs in opened)
            {
                runs.Dispose();
            }
        }

        // A segment read to its start lets go of its buffer at once, so a full walk holds only the segments under way.
        void Advance((IEnumerator<RunRecord> Runs, long Segment) entry)
        {
            if (entry.Runs.MoveNext())
            {
                heap.Enqueue(entry, -entry.Runs.Current.Seq);
                return;
            }
            entry.Runs.Dispose();
            opened.Remove(entry.Runs);
        }
    }

    /// <summary>The history batches, newest first, each with its runs in history (those of its segment).</summary>
    public IEnumerable<(BatchRecord Batch, List<RunRecord> Runs)> BatchesNewestFirst(HistoryHold hold)
    {
        HistoryIndex index = hold.Index;
        List<(BatchSeq Batch, long Segment)> all = [.. index.Segments
            .SelectMany(s => (s.BatchSeqs ?? []).Select(b => (b, s.Number)))
            .Where(b => !index.IsStale('b', b.b.Id, b.Number))
            .OrderByDescending(b => b.b.Seq)];
        long cached = -1;
        Dictionary<string, (BatchRecord? Batch, List<RunRecord> Runs)> scanned = [];
        foreach ((BatchSeq batch, long segment) in all)
        {
            if (segment != cached)
            {
                scanned = ScanBatches(index, segment, hold.Segment);
                cached = segment;
            }
            if (scanned.TryGetValue(batch.Id, out var found) && found.Batch is not null)
            {
                yield return (found.Batch, WithRunsElsewhere(index, batch.Id, segment, found.Runs, hold.Segment));
            }
        }
    }

    /// <summary>A history batch's runs: those of its segment and of the later segments that name it (<see cref="SegmentInfo.RunsOf"/>).</summary>
    public List<RunRecord> RunsOfBatch(HistoryIndex index, string batchId)
    {
        if (Ids(index).Find(batchId, 'b', 1) is not [{ } entry] || entry.Id != batchId)
        {
            return [];
        }
        List<RunRecord> runs = ScanBatches(index, entry.Segment, Existing).TryGetValue(batchId, out var found) ? found.Runs : [];
        return WithRunsElsewhere(index, batchId, entry.Segment, runs, Existing);
    }

    /// <summary><paramref name="runs"/> (the batch's runs in its own segment) with those that followed it into other segments, in seq order.</summary>
    private static List<RunRecord> WithRunsElsewhere(HistoryIndex index, string batchId, long own, List<RunRecord> runs,
        Func<long, SegmentFile?> segments)
    {
        List<SegmentInfo> others = [.. index.Segments.Where(s => s.Number != own && s.HoldsRunsOf(batchId))];
        if (others.Count == 0)
        {
            return runs;
        }
        List<RunRecord> all = [.. runs];
        foreach (SegmentInfo other in others)
        {
            if (segments(other.Number) is { } segment)
            {
                all.AddRange(segment.Forward().Select(e => e.Entry.Run)
                    .OfType<RunRecord>().Where(r => r.Run.BatchId == batchId && !index.IsStale('r', r.Id, other.Number)));
            }
        }
        all.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        return all;
    }

    private static Dictionary<string, (BatchRecord? Batch, List<RunRecord> Runs)> ScanBatches(HistoryIndex index, long number,
        Func<long, SegmentFile?> segments)
    {
        Dictionary<string, (BatchRecord? Batch, List<RunRecord> Runs)> batches = new(StringComparer.Ordinal);
        if (segments(number) is not { } segment)
        {
            return batches;
        }
        foreach ((JournalEntry entry, _) in segment.Forward())
        {
            if (entry.Batch is { } batch)
            {
                batches[batch.Id] = (batch, []);
            }
            else if (entry.Run is { Run.BatchId: { } id } run && batches.TryGetValue(id, out var owner) && !index.IsStale('r', run.Id, number))
            {
                owner.Runs.Add(run);
            }
        }
        return batches;
    }

    /// <summary>
    /// Writes a new segment of <paramref name="runs"/> and <paramref name="batches"/> and a new index naming it; returns
    /// that index. Records history already holds get their current copy in the new segment (the old is marked stale).
    /// </summary>
    public HistoryIndex AddSegment(HistoryIndex index, IReadOnlyList<BatchRecord> batches, IReadOnlyList<RunRecord> runs)
    {
        EnsureDirectory();
        long number = index.NextSegment;
        (SegmentInfo info, List<IdEntry> added) = SegmentFile.Write(fs, durability, paths, number,
            batches, [.. runs.OrderBy(r => r.Seq)]);
        CrashPoints.Reached("segment-written");
        Dictionary<string, long> replaced = new(index.Replaced ?? [], StringComparer.Ordinal);
        HistoryIndex next = index with
        {
            Generation = index.Generation + 1,
            NextSegment = number + 1,
            SeqFloor = Math.Max(index.SeqFloor, runs.Count > 0 ? runs.Max(r => r.Seq) : 0),
            BatchSeqFloor = Math.Max(index.BatchSeqFloor, batches.Count > 0 ? batches.Max(b => b.Seq) : 0),
            Segments = [.. index.Segments, info],
        };
        AtomicFile.Write(fs, durability, paths.IdIndex(next.Generation),
            stream => IdIndexFile.WriteMerged(stream, Ids(index).ReadAll(), added, e => replaced[$"{e.Kind}:{e.Id}"] = e.Segment), Unchanged);
        CrashPoints.Reached("ids-written");
        return Publish(next with { Replaced = replaced.Count > 0 ? replaced : null });
    }

    /// <summary>
    /// Rewrites the segments holding records <paramref name="drop"/> picks (prune) without them, and the index; returns
    /// the new index and the dropped runs. Stale copies go too. Segments left empty are dropped from the index.
    /// <paramref name="dropBatch"/> is asked with the batches that still have runs in the segment.
    /// </summary>
    public (HistoryIndex Index, List<RunRecord> Dropped, List<BatchRecord> DroppedBatches) Rewrite(HistoryIndex index,
        Func<SegmentInfo, bool> mayHold, Func<RunRecord, bool> drop, Func<BatchRecord, IReadOnlySet<string>, bool> dropBatch, bool dryRun = false)
    {
        List<RunRecord> dropped = [];
        List<BatchRecord> droppedBatches = [];
        List<SegmentInfo> segments = [];
        List<IdEntry> added = [];
        HashSet<long> rewritten = [];
        long number = index.NextSegment;
        Dictionary<string, long> replaced = new(index.Replaced ?? [], StringComparer.Ordinal);
        HashSet<string> runsLeftElsewhere = RunsLeftInOtherSegments(index, mayHold, drop);
        foreach (SegmentInfo info in index.Segments)
        {
            if (!mayHold(info))
            {
                segments.Add(info);
                continue;
            }
            List<RunRecord> keptRuns = [];
            List<BatchRecord> keptBatches = [];
            List<BatchRecord> batchesHere = [];
            int droppedHere = 0;
            foreach ((JournalEntry entry, _) in Segment(info.Number).Forward())
            {
                if (entry.Run is { } run)
                {
                    if (index.IsStale('r', run.Id, info.Number)) { droppedHere++; }
                    else if (drop(run)) { dropped.Add(run); droppedHere++; }
                    else { keptRuns.Add(run); }
                }
                else if (entry.Batch is { } batch)
                {
                    batchesHere.Add(batch);
                }
            }
            // Batches after runs: whether one goes depends on whether any of its runs stays.
            HashSet<string> withRunsLeft = [.. keptRuns.Where(r => r.Run.BatchId is not null).Select(r => r.Run.BatchId!), .. runsLeftElsewhere];
            foreach (BatchRecord batch in batchesHere)
            {
                if (index.IsStale('b', batch.Id, info.Number)) { droppedHere++; }
                else if (dropBatch(batch, withRunsLeft)) { droppedBatches.Add(batch); droppedHere++; }
                else { keptBatches.Add(batch); }
            }
            if (droppedHere == 0)
            {
                segments.Add(info);
                continue;
            }
            rewritten.Add(info.Number);
            if (keptRuns.Count + keptBatches.Count > 0 && !dryRun)
            {
                EnsureDirectory();
                (SegmentInfo newInfo, List<IdEntry> ids) = SegmentFile.Write(fs, durability, paths, number, keptBatches, keptRuns);
                foreach (IdEntry id in ids)
                {
                    if (replaced.ContainsKey($"{id.Kind}:{id.Id}"))
                    {
                        replaced[$"{id.Kind}:{id.Id}"] = number;
                    }
                }
                segments.Add(newInfo);
                added.AddRange(ids);
                number++;
            }
        }
        if (dryRun || rewritten.Count == 0)
        {
            return (index, dropped, droppedBatches);
        }
        foreach (string key in dropped.Select(r => $"r:{r.Id}").Concat(droppedBatches.Select(b => $"b:{b.Id}")))
        {
            replaced.Remove(key);
        }
        HistoryIndex next = index with
        {
            Generation = index.Generation + 1,
            NextSegment = number,
            Segments = segments,
            Replaced = replaced.Count > 0 ? replaced : null,
        };
        AtomicFile.Write(fs, durability, paths.IdIndex(next.Generation),
            stream => IdIndexFile.WriteMerged(stream, Ids(index).ReadAll().Where(e => !rewritten.Contains(e.Segment)), added), Unchanged);
        return (Publish(next), dropped, droppedBatches);
    }

    /// <summary>
    /// The batches that keep runs in a segment other than their own after a prune dropping what <paramref name="drop"/>
    /// picks: all those a segment prune leaves alone names, and those a rewritten one keeps a run of. Such a batch stays.
    /// </summary>
    private HashSet<string> RunsLeftInOtherSegments(HistoryIndex index, Func<SegmentInfo, bool> mayHold, Func<RunRecord, bool> drop)
    {
        HashSet<string> left = new(StringComparer.Ordinal);
        foreach (SegmentInfo info in index.Segments.Where(s => s.RunsOf is { Count: > 0 }))
        {
            if (!mayHold(info))
            {
                left.UnionWith(info.RunsOf!);
                continue;
            }
            foreach ((JournalEntry entry, _) in Segment(info.Number).Forward())
            {
                if (entry.Run is { Run.BatchId: { } batchId } run && info.HoldsRunsOf(batchId) &&
                    !index.IsStale('r', run.Id, info.Number) && !drop(run))
                {
                    left.Add(batchId);
                }
            }
        }
        return left;
    }

    private HistoryIndex Publish(HistoryIndex next)
    {
        AtomicFile.Write(fs, durability, paths.HistoryIndex,
            stream => JsonSerializer.Serialize(stream, next, StoreJson.Default.HistoryIndex), Unchanged);
        CrashPoints.Reached("index-renamed");
        durability.SyncDirectory(paths.HistoryDir, "History's new index may not survive a power cut; the hot state still holds everything it moved.");
        return next;
    }

    /// <summary>Removes segments and id indexes <paramref name="index"/> does not name: replaced ones and crash leftovers.</summary>
    public void RemoveLeftovers(HistoryIndex index)
    {
        if (!fs.Directory.Exists(paths.HistoryDir))
        {
            return;
        }
        HashSet<string> live = [paths.HistoryIndex, paths.IdIndex(index.Generation), .. index.Segments.Select(s => paths.Segment(s.Number))];
        foreach (string file in fs.Directory.EnumerateFiles(paths.HistoryDir))
        {
            if (!live.Contains(file))
            {
                AtomicFile.TryDelete(fs, file);
            }
        }
    }

    private void EnsureDirectory()
    {
        if (!fs.Directory.Exists(paths.HistoryDir))
        {
            StateDirectory.CreatePrivate(fs, paths.HistoryDir);
            durability.SyncDirectory(paths.Root, Unchanged);
        }
    }
}
