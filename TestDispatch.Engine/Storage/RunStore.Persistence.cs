using System.IO.Abstractions;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// How the store keeps its state on disk: every operation under state.lock, catching up with the journal; writes as
/// fsync'd journal appends; compaction folding the journal into a new hot snapshot and, once enough runs went cold,
/// moving them into a history segment first (see <see cref="History"/>). The hot snapshot holds the active and queued
/// runs, open batches and their runs, each machine's last verdict and the <see cref="StoreOptions.RecentRuns"/> newest
/// runs; whatever else it holds is cold and waits to fill a segment. So every command's cost is bounded by the lab's
/// work, not by its past.
/// </summary>
public sealed partial class RunStore
{
    /// <summary>
    /// Folds the journal into a new snapshot now, moving every cold run and closed batch into a history segment (it also
    /// happens by itself as the journal grows, with segments of at least <see cref="StoreOptions.SegmentRuns"/> runs).
    /// </summary>
    public void Compact() => Locked(() =>
    {
        CompactLocked(minColdRuns: 1);
        return 0;
    });

    private T Locked<T>(Func<T> action)
    {
        lock (_gate)
        {
            try
            {
                return LockedOnce(action);
            }
            catch (DispatchException e) when (StorageFailure.IsStorageCode(e.ErrorCode))
            {
                Forget();
                throw;
            }
            catch (Exception e) when (IoErrors.IsIo(e))
            {
                Forget();
                throw StorageFailure.Write(Paths.Root, "use the state dir", e, StorageFailure.NothingRecorded);
            }
        }
    }

    /// <summary>
    /// After a failure: this instance no longer trusts what it holds (a write may have half happened), so its next
    /// operation loads the snapshot and journal from disk again, as a new process would.
    /// </summary>
    private void Forget()
    {
        _generation = -1;
        _journal = null;
        _journalOffset = 0;
        _journalLines = 0;
    }

    private T LockedOnce<T>(Func<T> action)
    {
        Snapshot? parsed = null;
        bool readUnderLock = false;
        while (true)
        {
            using (AcquireStateLock())
            {
                long generation = _snapshot.ReadGeneration();
                if (generation == _generation || parsed is not null || readUnderLock)
                {
                    if (CatchUp(generation, parsed))
                    {
                        MigrateIfCold();
                    }
                    return action();
                }
            }
            // A new snapshot (first load, or another process compacted): parse it without the state lock, which
            // takes long enough at 100k runs to stall every other process. A renamed-in snapshot never changes;
            // CatchUp uses it if it is still the current one, else reads the newer one under the lock.
            try
            {
                parsed = _snapshot.Read(KnownEntries);
            }
            catch (DispatchException e) when (e.ErrorCode == ErrorCodes.StateCorrupt)
            {
                // A compaction since the generation was read may have removed a batch file this older snapshot names:
                // read again under the lock, where what is damaged is really damaged.
                readUnderLock = true;
            }
        }
    }

    /// <summary>The entries of a batch this instance holds (they never change), so a new snapshot need not parse them again.</summary>
    private IReadOnlyList<BatchEntry>? KnownEntries(string batchId) => _index.GetBatch(batchId)?.Entries;

    private IDisposable AcquireStateLock()
    {
        try
        {
            return StateLock.Acquire(_locks, Paths, _options.LockTimeout);
        }
        catch (TimeoutException e)
        {
            throw new DispatchException(ErrorCodes.StateLocked,
                $"{e.Message}. Another testdispatch process is stuck holding it; find it with 'fuser {Paths.StateLock}'.", inner: e);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Lock(Paths.StateLock, e);
        }
    }

    /// <summary>Reads what changed; true when a whole new snapshot was loaded.</summary>
    private bool CatchUp(long generation, Snapshot? parsed)
    {
        bool loaded = false;
        if (generation != _generation)
        {
            Snapshot snapshot = parsed?.Generation == generation ? parsed : _snapshot.Read(KnownEntries);
            if (snapshot.HistoryGeneration > 0 && !_fs.File.Exists(Paths.HistoryIndex))
            {
                throw StateCorruption.At(Paths.HistoryIndex,
                    $"it is missing, but {Paths.Snapshot} was written when it existed: every run in history would be hidden");
            }
            bool replacing = _index.Count > 0 || _index.BatchIds.Any();
            _index.Load(snapshot.Runs, snapshot.Batches ?? [], snapshot.Tried, snapshot.SeqFloor, snapshot.BatchSeqFloor);
            // Everything may have changed: no cursor from before answers any more.
            ForgetChanges();
            SwitchTo(snapshot.Generation);
            Version++;
            loaded = true;
            if (replacing)
            {
                // The whole hot state this process held is garbage now, and long since promoted past gen0: left to the
                // GC's own pace, a waiter on a 20,000-entry batch carried every reload's old state (91 MiB at the end).
                GC.Collect();
            }
        }

        (List<JournalEntry> entries, long offset, int lines) = _journal!.ReadFrom(_journalOffset, _journalLines);
        foreach (JournalEntry entry in entries)
        {
            if (entry.Run is not null)
            {
                _index.Apply(entry.Run);
                Changed(entry.Run.Id);
            }
            else
            {
                _index.Apply(entry.Batch!);
                _batchChanges++;
            }
        }
        _journalOffset = offset;
        _journalLines = lines;
        if (entries.Count > 0)
        {
            Version++;
        }
        return loaded;
    }

    /// <summary>
    /// A snapshot holding more cold runs than a segment takes (one written before history existed: a migration, with
    /// no step by the user; or one whose compaction a crash cut short), or a heavy hot state with a batch over (one
    /// written before finished batches left at once), is compacted at once. If that fails (a read-only
    /// mount, a full disk) the store still works from the whole snapshot, as before.
    /// </summary>
    private void MigrateIfCold()
    {
        if (!OverBatchTooHeavy() &&
            (_index.Count < _options.SegmentRuns + _options.RecentRuns || SelectCold().Runs.Count < _options.SegmentRuns))
        {
            return;
        }
        try
        {
            CompactLocked(_options.SegmentRuns);
        }
        catch (DispatchException e) when (e.ErrorCode is ErrorCodes.DiskFull or ErrorCodes.StateUnwritable)
        {
            // What failed left this instance as the disk is (see CompactLocked): carry on with the whole snapshot.
        }
    }

    private RunRecord Write(RunRecord record, bool durable = true)
    {
        // A finished run's process is gone and its pid may be reused, and where it ran is in the run itself: nothing
        // reads them, and not keeping them takes a good part off every snapshot and journal line.
        if (record.Run.Status.IsTerminal() && (record.Process is not null || record.Target is not null))
        {
            record = record with { Process = null, Target = null };
        }
        Append(new JournalEntry(record), durable);
        _index.Apply(record);
        Changed(record.Id);
        Version++;
        CompactIfLong(record.Run.Status.IsTerminal() ? record.Run.BatchId : null);
        return record;
    }

    private BatchRecord Write(BatchRecord batch)
    {
        Append(new JournalEntry(null, batch));
        _index.Apply(batch);
        _batchChanges++;
        Version++;
        CompactIfLong(batch.Id);
        return batch;
    }

    private void Append(JournalEntry entry, bool durable = true)
    {
        _journalOffset = _journal!.Append(entry, _journalOffset, durable);
        _journalLines++;
    }

    /// <summary>
    /// Compacts once the journal is long, in lines or in bytes (<see cref="StoreOptions.CompactAfterBytes"/>), or once the
    /// write ended batch <paramref name="batchId"/> and the hot state is heavy (<see cref="StoreOptions.HotBytes"/>). The
    /// write that got it there is already durable and acknowledged, so a failed compaction (a full disk) fails nothing:
    /// the journal just grows, and is tried again some lines later.
    /// </summary>
    private void CompactIfLong(string? batchId)
    {
        bool batchEnded = batchId is not null && _index.Ledger(batchId) is { IsOver: true } && HotBytes() > _options.HotBytes;
        if (!batchEnded && _journalLines < _compactAt && _journalOffset < _compactAtBytes)
        {
            return;
        }
        long generation = _generation;
        try
        {
            CompactLocked(_options.SegmentRuns);
        }
        catch (DispatchException e) when (e.ErrorCode is ErrorCodes.DiskFull or ErrorCodes.StateUnwritable)
        {
            // Only the directory's fsync failed if the new snapshot is in place: that compaction is done.
            if (_generation == generation)
            {
                _compactAt = _journalLines + Math.Max(1, _options.CompactAfterLines / 10);
                _compactAtBytes = _journalOffset + Math.Max(1, _options.CompactAfterBytes / 10);
            }
        }
    }

    /// <summary>
    /// What may leave the hot state: terminal runs that are not a machine's last verdict and not among the newest
    /// <see cref="StoreOptions.RecentRuns"/>, and the batches that are over. An open batch's ended runs go too: the
    /// batch keeps what it needs of them (<see cref="BatchLedger"/>), so a batch of 20,000 entries near its end does not
    /// make every command read 20,000 runs.
    /// </summary>
    private (List<RunRecord> Runs, List<BatchRecord> Batches) SelectCold()
    {
        HashSet<string> keep = new(StringComparer.Ordinal);
        foreach (RunRecord last in _index.LastFinishedAll())
        {
            keep.Add(last.Id);
        }
        foreach (RunRecord recent in _index.NewestFirst().Take(_options.RecentRuns))
        {
            keep.Add(recent.Id);
        }
        List<RunRecord> runs = [];
        foreach (RunRecord record in _index.InCreationOrderLazy())
        {
            if (record.Run.Status.IsTerminal() && !keep.Contains(record.Id))
            {
                runs.Add(record);
            }
        }
        List<BatchRecord> batches = [.. _index.BatchesInCreationOrder().Where(b => _index.Ledger(b.Id)!.IsOver)];
        return (runs, batches);
    }

    /// <summary>
    /// What every process reads of the hot state, in bytes: the snapshot, the journal so far and the hot batches' entries
    /// (a batch added since the snapshot is in the journal).
    /// </summary>
    private long HotBytes() => _snapshotBytes + _journalOffset + _index.BatchIds.Sum(id => FileLength(Paths.BatchFile(id)));

    /// <summary>Whether a batch is over while the hot state is heavier than <see cref="StoreOptions.HotBytes"/>.</summary>
    private bool OverBatchTooHeavy() => _index.BatchIds.Any(id => _index.Ledger(id)!.IsOver) && HotBytes() > _options.HotBytes;

    /// <summary>
    /// Moves cold runs and over batches to a history segment when there are <paramref name="minColdRuns"/> cold runs, or
    /// a batch is over and the hot state is heavy (<see cref="StoreOptions.HotBytes"/>); then writes the hot snapshot.
    /// </summary>
    private void CompactLocked(int minColdRuns)
    {
        HistoryIndex history = _history.ReadIndex();
        (List<RunRecord> coldRuns, List<BatchRecord> coldBatches) = SelectCold();
        bool moving = coldRuns.Count >= minColdRuns || (coldBatches.Count > 0 && (minColdRuns <= 1 || HotBytes() > _options.HotBytes));
        List<RunRecord> hotRuns;
        List<BatchRecord> hotBatches;
        if (moving)
        {
            history = _history.AddSegment(history, coldBatches, coldRuns);
            HashSet<string> cold = [.. coldRuns.Select(r => r.Id), .. coldBatches.Select(b => b.Id)];
            hotRuns = [.. _index.InCreationOrderLazy().Where(r => !cold.Contains(r.Id))];
            hotBatches = [.. _index.BatchesInCreationOrder().Where(b => !cold.Contains(b.Id))];
        }
        else
        {
            hotRuns = _index.InCreationOrder();
            hotBatches = _index.BatchesInCreationOrder();
        }
        PublishHot(hotRuns, hotBatches, history, reload: moving);
    }

    /// <summary>
    /// Replaces the hot snapshot with <paramref name="hotRuns"/> and <paramref name="hotBatches"/> as the next generation
    /// (and, with <paramref name="reload"/>, this instance's hot state with them), then removes what no one reads any more.
    /// </summary>
    private void PublishHot(List<RunRecord> hotRuns, List<BatchRecord> hotBatches, HistoryIndex history, bool reload)
    {
        long next = _generation + 1;
        long seqFloor = Math.Max(_index.MaxSeq, history.SeqFloor), batchSeqFloor = Math.Max(_index.MaxBatchSeq, history.BatchSeqFloor);
        HashSet<string> staying = [.. hotBatches.Select(b => b.Id)];
        List<BatchTries> tried = [.. _index.TriesBeyond(hotRuns).Where(t => staying.Contains(t.Batch))];
        _snapshot.Stage(new Snapshot(next, hotRuns, hotBatches, seqFloor, batchSeqFloor, tried, history.Generation));
        CrashPoints.Reached("snapshot-staged");
        _snapshot.Publish();
        CrashPoints.Reached("snapshot-renamed");
        // Every process now reads the new snapshot and its (empty) journal, so this one must too, whatever follows.
        SwitchTo(next);
        if (reload)
        {
            _index.Load(hotRuns, hotBatches, tried, seqFloor, batchSeqFloor);
            ForgetChanges();
            Version++;
        }
        // If the rename may not survive a power cut, the old journals stay: the old snapshot would need them. The next
        // journal's creation fsyncs the directory again before anything in it is acknowledged.
        _durability.SyncDirectory(Paths.Root, "The journal was folded into a new snapshot, which may not survive a power cut; nothing was lost.");
        // The new snapshot holds everything; older journals are now dead weight (also any left by a crash mid-compaction).
        foreach (string old in _fs.Directory.EnumerateFiles(Paths.Root, "journal.*.jsonl"))
        {
            if (old != _journal!.Path)
            {
                TryDelete(old);
            }
        }
        _snapshot.RemoveBatchFilesBut(hotBatches.Select(b => b.Id).ToHashSet(StringComparer.Ordinal));
        if (reload)
        {
            RemoveHistoryLeftovers(history);
        }
    }

    /// <summary>
    /// Removes the history files <paramref name="history"/> does not name (replaced segments, crash leftovers) if no walk
    /// of history is under way (history.lock free at once); else they stay until the next compaction or prune after it.
    /// </summary>
    private void RemoveHistoryLeftovers(HistoryIndex history)
    {
        try
        {
            using IDisposable? noWalk = _locks.TryAcquire(Paths.HistoryLock);
            if (noWalk is not null)
            {
                _history.RemoveLeftovers(history);
            }
        }
        catch (IOException)
        {
            // Best effort, after what it tidies up is already committed: a history.lock that cannot be opened (a directory,
            // mode 000) leaves the files for a later prune or compaction, never fails the one that removed the runs.
        }
    }

    /// <summary>History as its index names it now, for a walk after the lock (call under state.lock; see <see cref="HistoryHold"/>).</summary>
    private HistoryHold HoldHistory()
    {
        HistoryIndex index = _history.ReadIndex();
        return _history.Hold(index, index.Segments.Count == 0 ? null : ShareHistoryLock());
    }

    /// <summary>
    /// A shared hold on history.lock; null where it cannot be had (a read-only disk before any prune made the file, a
    /// history.lock that is a directory or mode 000): the walk goes on without, and fails should a segment go under it.
    /// </summary>
    private IDisposable? ShareHistoryLock()
    {
        try
        {
            return _locks.TryAcquireShared(Paths.HistoryLock);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void SwitchTo(long generation)
    {
        _generation = generation;
        _journal = new JournalFile(_fs, Paths.Journal(generation), _durability);
        _journalOffset = 0;
        _journalLines = 0;
        _snapshotBytes = FileLength(Paths.Snapshot);
        _compactAt = _options.CompactAfterLines;
        _compactAtBytes = Math.Max(_options.CompactAfterBytes, _snapshotBytes);
    }

    /// <summary>A file's length, 0 when it is not there or cannot be looked at (it only decides when to compact).</summary>
    private long FileLength(string path)
    {
        try
        {
            IFileInfo info = _fs.FileInfo.New(path);
            return info.Exists ? info.Length : 0;
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            return 0;
        }
    }

    /// <summary>A dead journal left behind is harmless (no reader looks at another generation's): the next compaction tries again.</summary>
    private void TryDelete(string path)
    {
        try
        {
            _fs.File.Delete(path);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
        }
    }
}
