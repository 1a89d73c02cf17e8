using System.Collections.Concurrent;

namespace TestDispatch.Chaos;

/// <summary>The figures of one chaos run, counted from every thread, and each invariant violation in words.</summary>
internal sealed class Figures
{
    public long Rounds;
    public long ClientCalls;
    public long RunsAcknowledged;
    public long BatchesAcknowledged;
    public long ProcessesKilled;
    public long ProcessesStopped;
    public long DiskFills;
    public long RunsLost;
    public long Orphans;
    public double LongestSettleSeconds;
    public double WorstLimitOverrunSeconds;

    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentDictionary<string, long> _faultsByTarget = new(StringComparer.Ordinal);

    public long FaultsInjected => ProcessesKilled + ProcessesStopped + DiskFills;

    public IReadOnlyCollection<string> Violations => [.. _violations];

    public IReadOnlyDictionary<string, long> FaultsByTarget => _faultsByTarget;

    public void Count(ref long counter) => Interlocked.Increment(ref counter);

    public void Fault(string target, string signal)
    {
        _faultsByTarget.AddOrUpdate($"{signal} {target}", 1, (_, n) => n + 1);
        Interlocked.Increment(ref signal == "SIGKILL" ? ref ProcessesKilled : ref ProcessesStopped);
    }

    public void Violation(string what)
    {
        _violations.Enqueue($"round {Interlocked.Read(ref Rounds)}: {what}");
        Console.Error.WriteLine($"[chaos] VIOLATION round {Interlocked.Read(ref Rounds)}: {what}");
    }

    public void Write(TextWriter to, int seed, TimeSpan wall, string disk)
    {
        to.WriteLine($"chaos run: seed {seed}, {wall.TotalMinutes:F1} min, state dir disk: {disk}");
        to.WriteLine($"  rounds                 {Rounds}");
        to.WriteLine($"  client calls           {ClientCalls}");
        to.WriteLine($"  runs acknowledged      {RunsAcknowledged}");
        to.WriteLine($"  batches acknowledged   {BatchesAcknowledged}");
        to.WriteLine($"  faults injected        {FaultsInjected}");
        to.WriteLine($"    processes killed     {ProcessesKilled}");
        to.WriteLine($"    processes stopped    {ProcessesStopped} (each continued after 0.2-3 s)");
        to.WriteLine($"    disk fills           {DiskFills}");
        foreach ((string what, long n) in _faultsByTarget.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            to.WriteLine($"      {what,-28} {n}");
        }
        to.WriteLine($"  longest settle         {LongestSettleSeconds:F1} s");
        to.WriteLine($"  worst time limit held  {WorstLimitOverrunSeconds:F1} s past the limit (grace 1 s)");
        to.WriteLine($"  invariant violations   {_violations.Count}");
        to.WriteLine($"  runs lost              {RunsLost}");
        to.WriteLine($"  orphans                {Orphans}");
        foreach (string violation in _violations)
        {
            to.WriteLine($"  ! {violation}");
        }
    }
}
