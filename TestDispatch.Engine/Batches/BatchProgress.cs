using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Batches;

/// <summary>
/// Where a batch stands, derived from its record and its runs (docs/DESIGN.md §8). An item is waiting until a run is made
/// for it, and again after an infrastructure failure while it has retries left; a cancelled batch's waiting items
/// are dropped. The batch is running while any item is waiting, pending or running.
/// </summary>
public static class BatchProgress
{
    public const string WaitingWord = "waiting";
    public const string DroppedWord = "dropped";

    /// <summary>Whether an item in this state is over without having passed (what <c>batch rerun --failed</c> takes).</summary>
    public static bool EndedWithoutPassing(string itemStatus) =>
        itemStatus == DroppedWord || (RunStatusExtensions.TryParse(itemStatus, out RunStatus status) && status.IsTerminal() && status != RunStatus.Completed);

    /// <summary>The batch as the contract shows it; with its items when <paramref name="withItems"/>.</summary>
    public static Batch Describe(BatchRecord batch, IReadOnlyList<RunRecord> runs, bool withItems = false)
    {
        Dictionary<string, List<RunRecord>> attempts = AttemptsByEntry(runs);
        return Describe(batch, [.. batch.Entries.Select(e => attempts.GetValueOrDefault(e.Name) is { } tried ? (tried.Count, LatestTry.Of(tried[^1])) : (0, (LatestTry?)null))],
            withItems);
    }

    /// <summary>
    /// The batch as the contract shows it, from how often each entry (in plan order) was tried and its latest run: what
    /// the store keeps up to date for an open batch, so a waiter's look at a batch of 20,000 entries allocates nothing
    /// per entry.
    /// </summary>
    public static Batch Describe(BatchRecord batch, IReadOnlyList<(int Tries, LatestTry? Last)> entries, bool withItems = false)
    {
        List<BatchItem>? items = withItems ? new(batch.Entries.Count) : null;
        int waiting = 0, pending = 0, running = 0, completed = 0, failed = 0, timeout = 0, interrupted = 0, dropped = 0;
        DateTimeOffset? lastEnd = batch.CancelledAt;
        for (int i = 0; i < batch.Entries.Count; i++)
        {
            BatchEntry entry = batch.Entries[i];
            (int tries, LatestTry? last) = entries[i];
            string status = StatusOf(batch, entry, tries, last);
            switch (status)
            {
                case WaitingWord: waiting++; break;
                case DroppedWord: dropped++; break;
                default:
                    switch (last!.Status)
                    {
                        case RunStatus.Pending: pending++; break;
                        case RunStatus.Running: running++; break;
                        case RunStatus.Completed: completed++; break;
                        case RunStatus.Failed: failed++; break;
                        case RunStatus.Timeout: timeout++; break;
                        case RunStatus.Interrupted: interrupted++; break;
                    }
                    break;
            }
            if (last?.EndedAt is { } ended && (lastEnd is null || ended > lastEnd))
            {
                lastEnd = ended;
            }
            if (items is not null)
            {
                items.Add(new BatchItem
                {
                    Name = entry.Name,
                    TestDir = entry.TestDir,
                    Machine = entry.Machine,
                    Tags = entry.Machine is null ? entry.Tags : null,
                    Status = status,
                    Attempts = tries,
                    RunId = last?.Id,
                    RanOn = last?.Machine,
                    ExitCode = last?.ExitCode,
                    ErrorCode = last?.ErrorCode ?? "",
                });
            }
        }

        BatchStatus batchStatus = waiting + pending + running > 0 ? BatchStatus.Running
            : batch.CancelledAt is not null ? BatchStatus.Cancelled
            : completed == batch.Entries.Count ? BatchStatus.Completed
            : BatchStatus.Failed;
        return new Batch
        {
            Id = batch.Id,
            Name = batch.Name,
            Status = batchStatus,
            Plan = batch.Plan,
            CreatedAt = batch.CreatedAt,
            EndedAt = batchStatus == BatchStatus.Running ? null : lastEnd ?? batch.CreatedAt,
            RerunOf = batch.RerunOf,
            Counts = new BatchCounts
            {
                Total = batch.Entries.Count,
                Waiting = waiting,
                Pending = pending,
                Running = running,
                Completed = completed,
                Failed = failed,
                Timeout = timeout,
                Interrupted = interrupted,
                Dropped = dropped,
            },
            Items = items,
        };
    }

    /// <summary>
    /// An item's state from its batch, how many runs it has had and the latest of them: that run's status while it
    /// goes or once it ended for good; waiting before its first run, after a try that left a machine held elsewhere, and
    /// after an infrastructure failure while it has retries left; dropped when its batch was cancelled before it ran.
    /// </summary>
    public static string StatusOf(BatchRecord batch, BatchEntry entry, int tries, LatestTry? last)
    {
        if (last is not null && !last.Status.IsTerminal())
        {
            return last.Status.ToWord();
        }
        // A try that left a machine held elsewhere never started the test: the entry waits again, whatever its retries.
        bool again = last is null || last.ErrorCode == ErrorCodes.MachineBusyElsewhere || (ErrorCodes.IsRetryable(last.ErrorCode) && tries <= entry.Retries);
        return !again ? last!.Status.ToWord()
            : batch.CancelledAt is null ? WaitingWord
            : last is null ? DroppedWord
            : last.Status.ToWord();
    }

    private static Dictionary<string, List<RunRecord>> AttemptsByEntry(IReadOnlyList<RunRecord> runs)
    {
        Dictionary<string, List<RunRecord>> attempts = new(StringComparer.Ordinal);
        foreach (RunRecord run in runs)
        {
            if (run.Run.PlanEntry is { } entry)
            {
                if (!attempts.TryGetValue(entry, out List<RunRecord>? list))
                {
                    attempts[entry] = list = [];
                }
                list.Add(run);
            }
        }
        return attempts;
    }
}
