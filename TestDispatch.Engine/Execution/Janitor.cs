using System.Collections.Concurrent;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Transports;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Nothing of a run outlives it, whatever instant an agent died at: once per agent and machine, what runs that are over
/// left there (the wrapper's files of a run whose agent died between its verdict and its cleanup; a remote run dir) is
/// removed; and a run given up while its machine did not answer is stopped as soon as the machine answers again, which then
/// takes work again (until then it is held, "unknown").
/// </summary>
public sealed class Janitor(RunStore store, Fleet fleet, LabConfig config, Func<Machine, ITransport> transports, TimedLog log)
{
    /// <summary>How many of a machine's newest ended runs are looked at: more than an agent could leave behind.</summary>
    private const int Newest = 500;

    private readonly ConcurrentDictionary<string, bool> _swept = new(StringComparer.Ordinal);

    /// <summary>Sweeps <paramref name="machine"/> unless this agent already did and no run on it was given up since; failures are logged, never thrown.</summary>
    public async Task SweepAsync(Machine machine, CancellationToken cancellationToken)
    {
        try
        {
            AbandonedRun? abandoned = fleet.Placement().Fleet[machine.Name].Abandoned;
            if (_swept.ContainsKey(machine.Name) && abandoned is null)
            {
                return;
            }
            List<(RunFiles Files, string? RunDir)> runs = [.. store.Ended(machine.Name, Newest).Select(r => (Files(r.Id), r.Process?.RunDir))];
            if (abandoned is not null)
            {
                runs.RemoveAll(r => r.Files.RunId == abandoned.Run);
                runs.Add((Files(abandoned.Run), abandoned.RunDir));
            }
            IReadOnlyList<string> clean = await transports(machine).SweepAsync(runs, config.Defaults.KillGrace, cancellationToken);
            _swept[machine.Name] = true;
            if (abandoned is not null && clean.Contains(abandoned.Run))
            {
                fleet.Settle(machine.Name, abandoned.Run);
                log.Write($"machine {machine.Name}: answers again; run {abandoned.Run}, given up while it did not answer, is stopped and its " +
                    $"directory removed: the machine takes work again");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DispatchException)
        {
            log.Write($"machine {machine.Name}: could not remove what ended runs left there yet: {e.Message}");
        }
    }

    private RunFiles Files(string id) => store.Paths.Files(id);
}
