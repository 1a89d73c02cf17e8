using System.Text.Json;
using System.Text.RegularExpressions;

namespace TestDispatch.Chaos;

/// <summary>
/// One client of a storm: what a lab engineer's shell or script does, again and again, through the real binary — dispatch
/// (queued or not, waited for or followed), submit a batch, cancel, list runs and machines, follow a log, prune, doctor.
/// Every id a call prints is acknowledged; every listing is checked.
/// </summary>
internal sealed partial class Storm(ChaosLab lab, StoreView store, Figures figures, Random random)
{
    /// <summary>The time limit of every <c>hang</c> test: the only one that would outlive a round.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan ShortCall = TimeSpan.FromSeconds(30);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            int roll = random.Next(100);
            Task action = roll switch
            {
                < 28 => DispatchAsync(wait: false, follow: false, cancellationToken),
                < 36 => DispatchAsync(wait: true, follow: false, cancellationToken),
                < 40 => DispatchAsync(wait: false, follow: true, cancellationToken),
                < 52 => SubmitAsync(cancellationToken),
                < 60 => CancelAsync(),
                < 63 => CancelBatchAsync(),
                < 75 => ListRunsAsync(),
                < 80 => CallAsync(["machines", "--json"], ShortCall, CancellationToken.None),
                < 90 => FollowAsync(cancellationToken),
                < 95 => PruneAsync(),
                _ => CallAsync(["doctor"], ShortCall, CancellationToken.None),
            };
            await action;
        }
    }

    private async Task DispatchAsync(bool wait, bool follow, CancellationToken cancellationToken)
    {
        string test = Pick([.. ChaosLab.Tests.Keys]);
        List<string> args = ["run", lab.TestDir(test), "--machine", Pick(lab.MachineNames)];
        if (random.Next(2) == 0)
        {
            args.Add("--queue");
        }
        if (test == "hang")
        {
            args.AddRange(["--timeout", $"{HangLimit.TotalSeconds}s"]);
        }
        if (wait || follow)
        {
            args.Add(follow ? "--follow" : "--wait");
        }
        // A waiting client ends with the storm, as a user's terminal closes: the run goes on.
        ClientResult result = await CallAsync(args, TimeSpan.FromSeconds(40), wait || follow ? cancellationToken : default);
        if (RunId().IsMatch(result.FirstLine))
        {
            store.AckRun(result.FirstLine);
        }
    }

    private async Task SubmitAsync(CancellationToken cancellationToken)
    {
        int count = random.Next(2, 6);
        string plan = lab.WritePlan($"plan-{Guid.NewGuid():N}", Enumerable.Range(0, count).Select(_ =>
        {
            string test = Pick([.. ChaosLab.Tests.Keys]);
            return (test, Pick(["local", "ssh", "any"]), test == "hang" ? $"{HangLimit.TotalSeconds}s" : (string?)null);
        }));
        bool wait = random.Next(3) == 0;
        ClientResult result = await CallAsync(wait ? ["batch", "submit", plan, "--json", "--wait"] : ["batch", "submit", plan, "--json"],
            TimeSpan.FromSeconds(60), wait ? cancellationToken : default);
        if (result.Stdout.Length > 0 && TryBatchId(result.Stdout) is { } id)
        {
            store.AckBatch(id);
        }
    }

    private async Task CancelAsync()
    {
        if (store.AckedRuns is { Count: > 0 } runs)
        {
            await CallAsync(["cancel", Pick([.. runs])], ShortCall);
        }
    }

    private async Task CancelBatchAsync()
    {
        if (store.AckedBatches is { Count: > 0 } batches)
        {
            await CallAsync(["batch", "cancel", Pick([.. batches])], ShortCall);
        }
    }

    private async Task ListRunsAsync()
    {
        ClientResult result = await CallAsync(["runs", "--json"], ShortCall);
        if (result.ExitCode == 0)
        {
            store.Observe(RunSeen.ParseList(result.Stdout));
        }
    }

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        if (store.AckedRuns is { Count: > 0 } runs)
        {
            await CallAsync(["logs", "-f", Pick([.. runs])], TimeSpan.FromSeconds(20), cancellationToken);
        }
    }

    private async Task PruneAsync()
    {
        await CallAsync(["prune", "--older-than", $"{StoreView.PruneAge.TotalSeconds}s"], ShortCall);
        store.PruneEnded(); // the prune's own clock read "now" before this
    }

    private async Task<ClientResult> CallAsync(IReadOnlyList<string> args, TimeSpan limit, CancellationToken cancellationToken = default)
    {
        figures.Count(ref figures.ClientCalls);
        return await lab.CallAsync(args, limit, cancellationToken);
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];

    private static string? TryBatchId(string json)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            return document.RootElement.GetProperty("id").GetString();
        }
        catch (JsonException)
        {
            return null; // cut short by a kill
        }
    }

    [GeneratedRegex("^[0-9a-f]{12}$")]
    private static partial Regex RunId();
}
