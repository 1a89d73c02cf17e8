using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;

namespace TestDispatch.Chaos;

/// <summary>One run as <c>runs --json</c> printed it: the fields the invariants read, and the whole JSON object as printed.</summary>
internal sealed record RunSeen(string Id, string Machine, string TestDir, string Status, DateTimeOffset? EndedAt, string? BatchId, string Json)
{
    public bool IsTerminal => Status is "completed" or "failed" or "interrupted" or "timeout";

    public static IReadOnlyList<RunSeen> ParseList(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateArray().Select(run => new RunSeen(
            run.GetProperty("id").GetString()!,
            run.GetProperty("machine").GetString()!,
            run.GetProperty("test_dir").GetString()!,
            run.GetProperty("status").GetString()!,
            run.TryGetProperty("ended_at", out JsonElement ended) && ended.ValueKind == JsonValueKind.String
                ? DateTimeOffset.Parse(ended.GetString()!, CultureInfo.InvariantCulture) : null,
            run.TryGetProperty("batch_id", out JsonElement batch) && batch.ValueKind == JsonValueKind.String ? batch.GetString() : null,
            run.GetRawText()))];
    }
}

/// <summary>
/// What the clients were told and what the store showed, checked as it comes in: every acknowledged run and batch id, every
/// terminal run's JSON as first seen (it must never change), and at most one running run per machine in every listing.
/// </summary>
internal sealed class StoreView(Figures figures)
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _ackedRuns = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _ackedBatches = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RunSeen> _terminal = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _batchesEnded = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _reportedLost = new(StringComparer.Ordinal);
    private long _lastPruneTicks = DateTimeOffset.MinValue.UtcTicks;

    /// <summary>How long ago a run must have ended for <c>prune</c> to take it; the storms' prunes all use it.</summary>
    public static readonly TimeSpan PruneAge = TimeSpan.FromSeconds(45);

    public IReadOnlyCollection<string> AckedRuns => [.. _ackedRuns.Keys];

    public IReadOnlyCollection<string> AckedBatches => [.. _ackedBatches.Keys];

    public void AckRun(string id)
    {
        if (_ackedRuns.TryAdd(id, DateTimeOffset.UtcNow))
        {
            figures.Count(ref figures.RunsAcknowledged);
        }
    }

    public void AckBatch(string id)
    {
        if (_ackedBatches.TryAdd(id, DateTimeOffset.UtcNow))
        {
            figures.Count(ref figures.BatchesAcknowledged);
        }
    }

    /// <summary>A prune has ended (or was killed): runs that ended <see cref="PruneAge"/> before now may be gone.</summary>
    public void PruneEnded() => Interlocked.Exchange(ref _lastPruneTicks, DateTimeOffset.UtcNow.UtcTicks);

    public void BatchEnded(string id, DateTimeOffset endedAt) => _batchesEnded.TryAdd(id, endedAt);

    /// <summary>Checks one full listing of the runs, as any client may have printed it.</summary>
    public void Observe(IReadOnlyList<RunSeen> runs)
    {
        foreach (IGrouping<string, RunSeen> machine in runs.Where(r => r.Status == "running").GroupBy(r => r.Machine))
        {
            if (machine.Count() > 1)
            {
                figures.Violation($"one running run per machine: {machine.Key} has {string.Join(", ", machine.Select(r => r.Id))} running at once");
            }
        }
        foreach (RunSeen run in runs.Where(r => r.IsTerminal))
        {
            RunSeen first = _terminal.GetOrAdd(run.Id, run);
            if (first.Json != run.Json)
            {
                figures.Violation($"a terminal run changed: {run.Id} was {first.Json}, now {run.Json}");
                _terminal[run.Id] = run; // say it once per change
            }
        }
    }

    /// <summary>Every acknowledged id that a complete listing lacks and that no prune may have taken: lost runs.</summary>
    public void CheckAcknowledged(IReadOnlyList<RunSeen> runs, IReadOnlyCollection<string> batchesListed)
    {
        HashSet<string> present = [.. runs.Select(r => r.Id)];
        DateTimeOffset prunable = new DateTimeOffset(Interlocked.Read(ref _lastPruneTicks), TimeSpan.Zero) - PruneAge;
        foreach (string id in _ackedRuns.Keys.Where(id => !present.Contains(id)))
        {
            bool pruned = _terminal.TryGetValue(id, out RunSeen? last) && last.EndedAt < prunable;
            if (!pruned && _reportedLost.TryAdd(id, true))
            {
                figures.Count(ref figures.RunsLost);
                figures.Violation($"acknowledged run {id} is missing from the store" + (last is null ? " (never seen ended)" : $" (last seen {last.Json})"));
            }
        }
        foreach (string id in _ackedBatches.Keys.Where(id => !batchesListed.Contains(id)))
        {
            bool pruned = _batchesEnded.TryGetValue(id, out DateTimeOffset ended) && ended < prunable;
            if (!pruned && _reportedLost.TryAdd("batch " + id, true))
            {
                figures.Count(ref figures.RunsLost);
                figures.Violation($"acknowledged batch {id} is missing from the store");
            }
        }
    }
}
