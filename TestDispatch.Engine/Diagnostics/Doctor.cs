using System.IO.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Diagnostics;

/// <summary>
/// <c>doctor [--repair]</c> as one pass: the state dir and its modes, the store and history, the agent, the programs the
/// transports need, each ssh and Slurm machine step by step; with repair, the modes made private again and a damaged store rebuilt
/// from what is readable (backups first), then checked again. Each finding is told as it is made.
/// </summary>
internal static class Doctor
{
    /// <summary>Returns whether nothing failed.</summary>
    public static async Task<bool> RunAsync(RunStore store, Fleet fleet, LabConfig config, IFileSystem fs, IFileLocks locks, bool repair,
        Action<Finding> report, CancellationToken cancellationToken)
    {
        report(new Finding(Health.Ok, "config", $"{config.Machines.Count} machines, read from {config.Source}"));
        if (repair)
        {
            foreach ((string path, UnixFileMode mode) in StateModes.Tighten(fs, store.Paths))
            {
                report(new Finding(Health.Repaired, "modes", $"{path} was {StateDirectory.Octal(mode)}; made private"));
            }
        }
        List<Finding> findings = [.. HealthCheck.Run(store, fleet, config, fs, locks)];
        findings.ForEach(report);
        foreach (Machine machine in config.Machines.Where(m => m.Transport == TransportKind.Ssh))
        {
            IReadOnlyList<Finding> checks = await SshCheck.RunAsync(machine, store.Paths.Root, cancellationToken);
            foreach (Finding check in checks)
            {
                report(check);
            }
            findings.AddRange(checks);
        }
        foreach (Machine machine in config.Machines.Where(m => m.Transport == TransportKind.Slurm))
        {
            IReadOnlyList<Finding> checks = await SlurmCheck.RunAsync(machine, cancellationToken);
            checks.ToList().ForEach(report);
            findings.AddRange(checks);
        }

        if (repair)
        {
            RepairReport repaired = StoreRepair.Repair(fs, locks, store.Paths.Root);
            if (!repaired.WasDamaged)
            {
                report(new Finding(Health.Repaired, "store", "the store is not damaged; nothing was changed"));
                return !findings.Any(f => f.Health == Health.Failure);
            }
            report(new Finding(Health.Repaired, "store", $"kept {repaired.RunsKept} runs; dropped {repaired.LinesDropped} unreadable journal lines" +
                (repaired.SnapshotLost ? "; the snapshot was unreadable, so runs only it held are gone from the store" : "") +
                (repaired.EntriesLost is { } lost ? $"; the entries of batch {string.Join(", ", lost)} were unreadable: the batch and its runs are kept, its plan entries are gone" : "")));
            if (repaired.History is { } history)
            {
                report(new Finding(Health.Repaired, "history", $"rebuilt history's index from {history.Segments} segments ({history.Records} records; " +
                    $"{history.LinesDropped} unreadable lines dropped)"));
            }
            foreach (string backup in repaired.Backups)
            {
                report(new Finding(Health.Repaired, "backup", $"backup kept at {backup}"));
            }
            // The store as repaired, read afresh.
            RunStore again = new(fs, locks, store.Paths.Root);
            findings = [.. HealthCheck.Run(again, new Fleet(config, again, new MachineLedger(fs, locks, again.Paths), fs, TimeProvider.System), config, fs, locks)];
            findings.ForEach(report);
        }
        else if (findings.Any(f => f.Subject == "store" && f.Health == Health.Failure))
        {
            report(new Finding(Health.Advice, "store", "The store is damaged. 'testdispatch doctor --repair' rebuilds it from what is readable, keeping backups."));
        }
        return !findings.Any(f => f.Health == Health.Failure);
    }

    /// <summary>
    /// <c>doctor --repair</c> for a state dir others may write to (no lab can open it): makes it 0700 if this user owns it
    /// (true); one another user owns is left alone (false), even for root.
    /// </summary>
    public static bool MakePrivate(string stateDir) => StateDirectory.MakePrivate(new FileSystem(), Path.GetFullPath(stateDir));
}
