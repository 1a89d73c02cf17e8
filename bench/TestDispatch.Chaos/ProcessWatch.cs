using System.Collections.Concurrent;

namespace TestDispatch.Chaos;

/// <summary>
/// Looks at the lab's processes a few times a second: how long each run's test processes lived (the time limit is held on
/// the machine, so a limited test must be gone by its limit + the kill grace + a few seconds), and whether two runs' tests
/// were ever alive on one machine at once (the first invariant, seen from the machines rather than from the store).
/// </summary>
internal sealed class ProcessWatch(string root)
{
    public static readonly TimeSpan Every = TimeSpan.FromMilliseconds(250);

    private readonly ConcurrentDictionary<string, (DateTimeOffset First, DateTimeOffset Last)> _lifetimes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _overlapsSaid = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Machine, IReadOnlyList<string> Runs, string Processes)> _overlaps = new();

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Sample();
            try
            {
                await Task.Delay(Every, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>From when to when the test processes of <paramref name="runId"/> were seen alive, if they ever were.</summary>
    public (DateTimeOffset First, DateTimeOffset Last)? Lifetime(string runId) => _lifetimes.TryGetValue(runId, out var life) ? life : null;

    /// <summary>Each time two runs' tests were seen alive at once on one machine since the last call.</summary>
    public IReadOnlyList<(string Machine, IReadOnlyList<string> Runs, string Processes)> TakeOverlaps()
    {
        List<(string, IReadOnlyList<string>, string)> taken = [];
        while (_overlaps.TryDequeue(out var overlap))
        {
            taken.Add(overlap);
        }
        return taken;
    }

    public void Sample()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        List<ProcessInfo> tests = [.. ProcTable.Read().Where(p => p.Machine is not null && p.RunId is not null && !p.IsWrapper && p.IsUnder(root))];
        foreach (string runId in tests.Select(p => p.RunId!).Distinct())
        {
            _lifetimes.AddOrUpdate(runId, (now, now), (_, life) => (life.First, now));
        }
        foreach (IGrouping<string, ProcessInfo> machine in tests.GroupBy(p => p.Machine!))
        {
            List<string> runs = [.. machine.Select(p => p.RunId!).Distinct().Order(StringComparer.Ordinal)];
            if (runs.Count > 1 && _overlapsSaid.TryAdd(string.Join(",", runs), true))
            {
                _overlaps.Enqueue((machine.Key, runs, string.Join("; ", machine.Select(p => $"{p.Pid} {p.RunId} {p.CommandLine}"))));
            }
        }
    }
}
