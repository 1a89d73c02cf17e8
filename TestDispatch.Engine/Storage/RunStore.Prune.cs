using TestDispatch.Engine.Batches;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// Retention: <c>prune --older-than</c>. Removes ended runs' records, logs, artifacts and test cases (from the case index too), never a run that is not
/// terminal and never a run of a batch still open; a batch's record goes once none of its runs is left. In the order a
/// crash cannot hurt: history's segments and index first, then the hot snapshot, then the runs' directories (a crash
/// between leaves a prune half done, which the next prune finishes; never a record without its log that was not meant).
/// </summary>
public sealed partial class RunStore
{
    /// <param name="olderThan">Runs that ended longer ago than this go.</param>
    /// <param name="keepFailed">Keep runs that did not pass (failed, timeout, interrupted), and their batches.</param>
    /// <param name="dryRun">Only say what would go.</param>
    public PruneReport Prune(TimeSpan olderThan, bool keepFailed = false, bool dryRun = false) => Locked(() =>
    {
        DateTimeOffset now = _clock.GetUtcNow();
        // An age reaching back past the calendar's start (a TimeSpan goes further): nothing ended before that.
        DateTimeOffset cutoff = olderThan >= now - DateTimeOffset.MinValue ? DateTimeOffset.MinValue : now - olderThan;
        HashSet<string> open = [.. _index.BatchIds.Where(id => _index.Ledger(id) is { IsOver: false })];
        bool Drop(RunRecord r) =>
            r.Run.Status.IsTerminal() && (r.Run.EndedAt ?? r.CreatedAt) < cutoff &&
            !(keepFailed && r.Run.Status != RunStatus.Completed) &&
            (r.Run.BatchId is not { } batch || !open.Contains(batch));

        List<RunRecord> hotDropped = [.. _index.InCreationOrderLazy().Where(Drop)];
        HashSet<string> hotGone = [.. hotDropped.Select(r => r.Id)];
        HashSet<string> batchesWithRunsLeft = [.. _index.InCreationOrderLazy().Where(r => !hotGone.Contains(r.Id) && r.Run.BatchId is not null).Select(r => r.Run.BatchId!)];
        bool DropBatch(BatchRecord b, IReadOnlySet<string> keptInSegment) =>
            !keepFailed && !open.Contains(b.Id) && b.CreatedAt < cutoff && !batchesWithRunsLeft.Contains(b.Id) && !keptInSegment.Contains(b.Id);

        HistoryIndex before = _history.ReadIndex();
        (HistoryIndex history, List<RunRecord> historyDropped, List<BatchRecord> historyBatchesDropped) = _history.Rewrite(before,
            s => s.OldestEnd is null || s.OldestEnd < cutoff, r => hotGone.Contains(r.Id) || (_index.Get(r.Id) is null && Drop(r)), DropBatch, dryRun);
        // A run both hot and in history (a compaction a crash cut short) goes from both, or its history copy would come back.
        historyDropped.RemoveAll(r => hotGone.Contains(r.Id));
        List<BatchRecord> hotBatchesDropped = [.. _index.BatchesInCreationOrder().Where(b => DropBatch(b, new HashSet<string>()) &&
            !historyHoldsRunsOf(b.Id))];
        bool historyHoldsRunsOf(string batchId) => _history.RunsOfBatch(history, batchId).Count > 0;

        List<RunRecord> dropped = [.. hotDropped, .. historyDropped];
        long bytes = dropped.Sum(r => SizeOf(Paths.RunDir(r.Id)));
        PruneReport report = new(dropped, [.. hotBatchesDropped.Select(b => b.Id), .. historyBatchesDropped.Select(b => b.Id)], bytes, dryRun);
        if (dryRun)
        {
            return report;
        }
        if (dropped.Count == 0 && report.Batches.Count == 0)
        {
            RemoveHistoryLeftovers(history); // what a prune cut short by a crash (or put off for a walk) left behind
            return report;
        }
        CrashPoints.Reached("prune-history-written");
        HashSet<string> goneBatches = [.. hotBatchesDropped.Select(b => b.Id)];
        PublishHot([.. _index.InCreationOrderLazy().Where(r => !hotGone.Contains(r.Id))],
            [.. _index.BatchesInCreationOrder().Where(b => !goneBatches.Contains(b.Id))], history, reload: true);
        foreach (RunRecord run in dropped)
        {
            RemoveRunDirectory(run.Id);
        }
        RemoveCases(hotGone.Concat(historyDropped.Select(r => r.Id)).ToHashSet(StringComparer.Ordinal));
        RemoveHistoryLeftovers(history);
        return report;
    });

    private long SizeOf(string directory)
    {
        try
        {
            return _fs.Directory.Exists(directory)
                ? _fs.Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Sum(f => _fs.FileInfo.New(f).Length)
                : 0;
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            return 0;
        }
    }

    /// <summary>A run's log, artifacts and work copy. One that cannot be removed stays; its record is gone, so doctor's size shows it.</summary>
    private void RemoveRunDirectory(string id)
    {
        try
        {
            if (_fs.Directory.Exists(Paths.RunDir(id)))
            {
                _fs.Directory.Delete(Paths.RunDir(id), recursive: true);
            }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
        }
    }
}
