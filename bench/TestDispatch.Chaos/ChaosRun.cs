using System.Diagnostics;
using System.Text.Json;

namespace TestDispatch.Chaos;

/// <summary>What one chaos run does: how long, how hard, on which machines.</summary>
/// <param name="Binary">The built testdispatch program the clients run.</param>
/// <param name="Root">An empty directory of its own: the lab, the sshd and the runs live in it, and nothing else of ours runs there.</param>
internal sealed record ChaosOptions(string Binary, string Root, int Seed, TimeSpan Duration, TimeSpan StormLength, int Clients, bool Ssh, bool DiskFill)
{
    /// <summary>How long the runs may take to settle after a storm before that is a violation.</summary>
    public TimeSpan SettleBound { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>
/// Rounds of storm then check, until the time is up: a storm (clients and faults at once, listings sampled), then the faults
/// undone and the lab left to settle (every run ended, every batch done, with a bound), then every invariant of
/// docs/DESIGN.md checked on what the store and /proc show. The figures say how much was done and what was violated.
/// </summary>
internal sealed class ChaosRun(ChaosOptions options, ChaosLab lab, LoopbackSshd? sshd, string? diskToFill)
{
    private static readonly string[] Active = ["pending", "running"];

    public Figures Figures { get; } = new();

    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        StoreView store = new(Figures);
        ProcessWatch watch = new(options.Root);
        Random seeds = new(options.Seed);
        Stopwatch clock = Stopwatch.StartNew();
        using CancellationTokenSource watching = new();
        Task watcher = watch.RunAsync(watching.Token);
        try
        {
            do
            {
                Figures.Count(ref Figures.Rounds);
                Say($"round {Figures.Rounds}: storm of {options.Clients} clients for {options.StormLength.TotalSeconds:0}s");
                FaultInjector faults = new(lab, sshd, diskToFill, Figures, new Random(seeds.Next()));
                using (CancellationTokenSource storm = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    storm.CancelAfter(options.StormLength);
                    List<Task> tasks = [.. Enumerable.Range(0, options.Clients).Select(_ => new Storm(lab, store, Figures, new Random(seeds.Next())).RunAsync(storm.Token))];
                    tasks.Add(faults.RunAsync(storm.Token));
                    tasks.Add(SampleListingsAsync(store, storm.Token));
                    await Task.WhenAll(tasks);
                }
                await faults.UndoAsync();
                IReadOnlyList<RunSeen> runs = await SettleAsync(store, cancellationToken);
                await CheckAsync(store, watch, runs, cancellationToken);
            }
            while (clock.Elapsed + options.StormLength < options.Duration && !cancellationToken.IsCancellationRequested);
        }
        finally
        {
            await watching.CancelAsync();
            await watcher;
        }
    }

    /// <summary>Lists the runs every second of the storm, as a watching user's app would: each listing is checked.</summary>
    private async Task SampleListingsAsync(StoreView store, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            ClientResult result = await lab.CallAsync(["runs", "--json"], TimeSpan.FromSeconds(30), cancellationToken);
            if (result.ExitCode == 0)
            {
                store.Observe(RunSeen.ParseList(result.Stdout));
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Waits, listing as a user would (which brings an agent back if none is up), until no run or batch is active.</summary>
    private async Task<IReadOnlyList<RunSeen>> SettleAsync(StoreView store, CancellationToken cancellationToken)
    {
        Stopwatch settling = Stopwatch.StartNew();
        while (true)
        {
            ClientResult listing = await lab.CallAsync(["runs", "--json"], TimeSpan.FromSeconds(30), cancellationToken);
            ClientResult batches = await lab.CallAsync(["batch", "list", "--json"], TimeSpan.FromSeconds(30), cancellationToken);
            if (listing.ExitCode == 0 && batches.ExitCode == 0)
            {
                IReadOnlyList<RunSeen> runs = RunSeen.ParseList(listing.Stdout);
                store.Observe(runs);
                List<RunSeen> active = [.. runs.Where(r => Active.Contains(r.Status))];
                bool batchesActive = BatchStatuses(batches.Stdout).Any(b => b.Status == "running");
                if (active.Count == 0 && !batchesActive)
                {
                    Figures.LongestSettleSeconds = Math.Max(Figures.LongestSettleSeconds, settling.Elapsed.TotalSeconds);
                    return runs;
                }
                if (settling.Elapsed > options.SettleBound)
                {
                    IReadOnlyList<ProcessInfo> processes = ProcTable.Read();
                    foreach (RunSeen run in active)
                    {
                        bool wrapper = processes.Any(p => p.IsWrapper && p.RunId == run.Id);
                        Figures.Violation($"run {run.Id} still {run.Status} {options.SettleBound.TotalSeconds:0}s after the storm" +
                            (run.Status == "running" ? wrapper ? " (its wrapper lives)" : " with no live wrapper" : "") + $": {run.Json}");
                    }
                    if (batchesActive)
                    {
                        Figures.Violation($"batches still running {options.SettleBound.TotalSeconds:0}s after the storm: {batches.Stdout.Trim()}");
                    }
                    Figures.LongestSettleSeconds = Math.Max(Figures.LongestSettleSeconds, settling.Elapsed.TotalSeconds);
                    return runs;
                }
            }
            else if (settling.Elapsed > options.SettleBound)
            {
                Figures.Violation($"the store does not load: runs exit {listing.ExitCode}: {listing.Stderr.Trim()}; batch list exit {batches.ExitCode}: {batches.Stderr.Trim()}");
                return [];
            }
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    private async Task CheckAsync(StoreView store, ProcessWatch watch, IReadOnlyList<RunSeen> runs, CancellationToken cancellationToken)
    {
        // The store loads, and doctor finds nothing broken in it.
        ClientResult doctor = await lab.CallAsync(["doctor"], TimeSpan.FromSeconds(60), cancellationToken);
        if (doctor.ExitCode != 0)
        {
            Figures.Violation($"doctor exit {doctor.ExitCode}: {doctor.Stdout.Trim()} {doctor.Stderr.Trim()}");
        }

        ClientResult batchList = await lab.CallAsync(["batch", "list", "--json"], TimeSpan.FromSeconds(30), cancellationToken);
        IReadOnlyList<(string Id, string Status, DateTimeOffset? EndedAt)> batches = batchList.ExitCode == 0 ? BatchStatuses(batchList.Stdout) : [];
        foreach ((string id, string _, DateTimeOffset? ended) in batches.Where(b => b.EndedAt is not null))
        {
            store.BatchEnded(id, ended!.Value);
        }
        store.CheckAcknowledged(runs, [.. batches.Select(b => b.Id)]);
        await CheckBatchesAsync(runs, [.. batches.Where(b => store.AckedBatches.Contains(b.Id)).Select(b => b.Id)], cancellationToken);
        CheckTimeLimits(watch, runs);
        CheckOverlaps(watch, runs);
        await CheckOrphansAsync(runs);
        Say($"round {Figures.Rounds} checked: {runs.Count} runs listed, {Figures.Violations.Count} violations so far, {Figures.FaultsInjected} faults so far");
    }

    /// <summary>Each batch's counts are its entries', and each entry's status is its run's.</summary>
    private async Task CheckBatchesAsync(IReadOnlyList<RunSeen> runs, IReadOnlyList<string> batchIds, CancellationToken cancellationToken)
    {
        Dictionary<string, RunSeen> byId = runs.ToDictionary(r => r.Id, StringComparer.Ordinal);
        foreach (string id in batchIds)
        {
            ClientResult shown = await lab.CallAsync(["batch", "show", id, "--json"], TimeSpan.FromSeconds(30), cancellationToken);
            if (shown.ExitCode != 0)
            {
                continue; // pruned meanwhile: the acknowledged-id check has judged it
            }
            using JsonDocument document = JsonDocument.Parse(shown.Stdout);
            JsonElement batch = document.RootElement;
            JsonElement counts = batch.GetProperty("counts");
            List<JsonElement> items = [.. batch.GetProperty("items").EnumerateArray()];
            if (counts.GetProperty("total").GetInt32() != items.Count)
            {
                Figures.Violation($"batch {id} counts {counts.GetProperty("total").GetInt32()} entries but has {items.Count}");
            }
            foreach (string word in new[] { "waiting", "pending", "running", "completed", "failed", "timeout", "interrupted", "dropped" })
            {
                int counted = counts.GetProperty(word).GetInt32(), actual = items.Count(i => i.GetProperty("status").GetString() == word);
                if (counted != actual)
                {
                    Figures.Violation($"batch {id} counts {counted} {word} but {actual} entries are: {shown.Stdout.Trim()}");
                }
            }
            foreach (JsonElement item in items)
            {
                if (item.TryGetProperty("run_id", out JsonElement runId) && runId.ValueKind == JsonValueKind.String
                    && byId.TryGetValue(runId.GetString()!, out RunSeen? run) && run.Status != item.GetProperty("status").GetString())
                {
                    Figures.Violation($"batch {id} entry {item.GetProperty("name").GetString()} is {item.GetProperty("status").GetString()} but its run {run.Id} is {run.Status}");
                }
            }
        }
    }

    /// <summary>Every limited test was seen alive for no longer than its limit, the kill grace and a few seconds (and a stop's length).</summary>
    private void CheckTimeLimits(ProcessWatch watch, IReadOnlyList<RunSeen> runs)
    {
        TimeSpan allowed = Storm.HangLimit + TimeSpan.FromSeconds(1) + FaultInjector.LongestStop + TimeSpan.FromSeconds(3);
        foreach (RunSeen run in runs.Where(r => r.IsTerminal && r.TestDir.EndsWith("/hang", StringComparison.Ordinal)))
        {
            if (watch.Lifetime(run.Id) is not { } life)
            {
                continue;
            }
            TimeSpan lived = life.Last - life.First;
            Figures.WorstLimitOverrunSeconds = Math.Max(Figures.WorstLimitOverrunSeconds, (lived - Storm.HangLimit).TotalSeconds);
            if (lived > allowed)
            {
                Figures.Violation($"time limit not held: run {run.Id} ({Storm.HangLimit.TotalSeconds:0}s limit) had its test alive for {lived.TotalSeconds:F1}s: {run.Json}" +
                    $"{Environment.NewLine}agent.log about it:{Environment.NewLine}{lab.AgentLogAbout([run.Id])}");
            }
        }
    }

    /// <summary>Two runs' tests seen alive at once on one machine: the first invariant broken on the machine itself.</summary>
    private void CheckOverlaps(ProcessWatch watch, IReadOnlyList<RunSeen> runs)
    {
        Dictionary<string, RunSeen> byId = runs.ToDictionary(r => r.Id, StringComparer.Ordinal);
        foreach ((string machine, IReadOnlyList<string> ids, string processes) in watch.TakeOverlaps())
        {
            Figures.Violation($"one running run per machine: tests of runs {string.Join(" and ", ids)} alive at once on {machine} ({processes}); the runs now: " +
                string.Join(" ", ids.Select(id => byId.TryGetValue(id, out RunSeen? run) ? run.Json : id + " unknown")) +
                $"{Environment.NewLine}agent.log about them:{Environment.NewLine}{lab.AgentLogAbout(ids)}");
        }
    }

    /// <summary>No process of an ended run (nor of a run the store does not know) is alive, a few seconds after it ended.</summary>
    private async Task CheckOrphansAsync(IReadOnlyList<RunSeen> runs)
    {
        HashSet<string> active = [.. runs.Where(r => Active.Contains(r.Status)).Select(r => r.Id)];
        Dictionary<string, RunSeen> byId = runs.ToDictionary(r => r.Id, StringComparer.Ordinal);
        List<ProcessInfo> left = [];
        for (int look = 0; look < 10; look++)
        {
            left = [.. ProcTable.Read().Where(p => p.RunId is not null && p.IsUnder(options.Root) && !active.Contains(p.RunId))];
            if (left.Count == 0)
            {
                return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        foreach (ProcessInfo process in left)
        {
            Figures.Count(ref Figures.Orphans);
            string whose = byId.TryGetValue(process.RunId!, out RunSeen? run) ? run.Json : "a run the store does not know";
            Figures.Violation($"orphan: pid {process.Pid} ({process.CommandLine}) of run {process.RunId} alive after it ended: {whose}" +
                $"{Environment.NewLine}agent.log about it:{Environment.NewLine}{lab.AgentLogAbout([process.RunId!])}");
            ProcTable.Signal(process.Pid, ProcTable.SIGKILL); // so that the next round starts clean
        }
    }

    private static IReadOnlyList<(string Id, string Status, DateTimeOffset? EndedAt)> BatchStatuses(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateArray().Select(b => (
            b.GetProperty("id").GetString()!,
            b.GetProperty("status").GetString()!,
            b.TryGetProperty("ended_at", out JsonElement ended) && ended.ValueKind == JsonValueKind.String ? ended.GetDateTimeOffset() : (DateTimeOffset?)null))];
    }

    private static void Say(string what) => Console.Error.WriteLine($"[chaos] {DateTime.UtcNow:HH:mm:ss} {what}");
}
