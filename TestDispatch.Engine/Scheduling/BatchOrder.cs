using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Scheduling;

/// <summary>
/// The order a batch's entries are handed out in: longest expected first, so the batch does not end with one machine
/// running its longest test while the others idle. An entry is expected to take the mean of its test dir's last few runs
/// that ran to their end; a test dir never run, the mean of the known ones (pytest-split's rule); plan order among equals,
/// and for a plan that asks for it (<c>"order": "plan"</c>) or when history knows none of its test dirs.
/// </summary>
public static class BatchOrder
{
    /// <summary>How many of the newest runs durations are learnt from: the cost is bounded whatever history holds.</summary>
    public const int Lookback = 2_000;

    /// <summary>How many of a test dir's latest runs its expected duration is the mean of.</summary>
    public const int PerTestDir = 3;

    /// <summary>
    /// <paramref name="entries"/> with <see cref="BatchEntry.Expected"/> set from <paramref name="newestFirst"/> (the store's
    /// runs, newest first; only the first <see cref="Lookback"/> are read); unchanged when none of their test dirs is known.
    /// </summary>
    public static IReadOnlyList<BatchEntry> Expect(IReadOnlyList<BatchEntry> entries, IEnumerable<Run> newestFirst)
    {
        Dictionary<string, List<TimeSpan>> known = new(StringComparer.Ordinal);
        foreach (string dir in entries.Select(e => e.TestDir))
        {
            known.TryAdd(dir, []);
        }
        foreach (Run run in newestFirst.Take(Lookback))
        {
            if (known.TryGetValue(run.TestDir, out List<TimeSpan>? durations) && durations.Count < PerTestDir && RanToItsEnd(run) &&
                run.EndedAt - run.StartedAt is { } took)
            {
                durations.Add(took);
            }
        }
        Dictionary<string, TimeSpan> expected = known.Where(k => k.Value.Count > 0)
            .ToDictionary(k => k.Key, k => TimeSpan.FromTicks((long)k.Value.Average(d => d.Ticks)), StringComparer.Ordinal);
        if (expected.Count == 0)
        {
            return entries;
        }
        TimeSpan unknown = TimeSpan.FromTicks((long)expected.Values.Average(d => d.Ticks));
        return [.. entries.Select(e => e with { Expected = expected.GetValueOrDefault(e.TestDir, unknown) })];
    }

    /// <summary>
    /// When the batch is expected to end, by its entries' <see cref="BatchEntry.Expected"/> durations: each running item takes
    /// what is left of its expected time on its machine, each pending one its whole on the machine it waits for, and the
    /// waiting ones are handed out longest first, each to the machine that may run it and is free soonest. Null when the
    /// batch has no expectations (history knew none of its test dirs, or it runs in plan order), is over, or has a waiting
    /// item no machine may take. Other work on the machines is not counted: an estimate.
    /// </summary>
    /// <param name="items">The batch's items, in plan order (as <c>batch show</c> gives them).</param>
    /// <param name="machinesFor">The machines that may run an entry.</param>
    /// <param name="startedAt">When a running item's run started its test.</param>
    public static DateTimeOffset? ExpectedEnd(BatchRecord batch, IReadOnlyList<BatchItem> items, Func<BatchEntry, IEnumerable<string>> machinesFor,
        Func<string, DateTimeOffset?> startedAt, DateTimeOffset now)
    {
        if (batch.Entries.Count != items.Count || batch.Entries.Any(e => e.Expected is null))
        {
            return null;
        }
        Dictionary<string, TimeSpan> busyFor = new(StringComparer.Ordinal);
        List<int> waiting = [];
        bool open = false;
        for (int i = 0; i < items.Count; i++)
        {
            TimeSpan expected = batch.Entries[i].Expected!.Value;
            BatchItem item = items[i];
            if (item.Status == BatchProgress.WaitingWord)
            {
                waiting.Add(i);
            }
            else if (RunStatusExtensions.TryParse(item.Status, out RunStatus status) && !status.IsTerminal() && item.RanOn is { } machine)
            {
                // Pending: the whole of it, after what its machine has; running: what is left of it.
                TimeSpan ran = status == RunStatus.Running && item.RunId is { } id && startedAt(id) is { } started ? now - started : TimeSpan.Zero;
                busyFor[machine] = busyFor.GetValueOrDefault(machine) + (expected > ran ? expected - ran : TimeSpan.Zero);
                open = true;
            }
        }
        foreach (int i in waiting.OrderByDescending(i => batch.Entries[i].Expected).ThenBy(i => i))
        {
            string? soonest = machinesFor(batch.Entries[i]).MinBy(m => busyFor.GetValueOrDefault(m));
            if (soonest is null)
            {
                return null;
            }
            busyFor[soonest] = busyFor.GetValueOrDefault(soonest) + batch.Entries[i].Expected!.Value;
            open = true;
        }
        return open ? now + busyFor.Values.DefaultIfEmpty(TimeSpan.Zero).Max() : null;
    }

    /// <summary>The test decided the verdict (passed or failed on its own): its duration says how long the test takes.</summary>
    private static bool RanToItsEnd(Run run) =>
        run.Status is RunStatus.Completed or RunStatus.Failed && run.ErrorCode.Length == 0 && run.StartedAt is not null && run.EndedAt is not null;
}
