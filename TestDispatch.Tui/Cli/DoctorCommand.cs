using System.CommandLine;
using System.IO.Abstractions;
using TestDispatch.Engine;
using TestDispatch.Engine.Diagnostics;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>doctor [--repair]</c>: checks the configuration (by loading it), the state dir and the modes in it, the store, the
/// agent and the programs the transports need. <c>--repair</c> makes the state dir and what it keeps private again
/// (0700 and 0600) and rebuilds a damaged store from what is readable, keeping a backup of every file first. Exits 0
/// when nothing failed, 4 otherwise.
/// </summary>
public static class DoctorCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> repair = new("--repair") { Description = "Make the state dir private again (0700/0600) and rebuild a damaged store from what is readable (backups are kept)" };
        Command command = new("doctor", "Check the configuration, state dir, store, agent and needed programs") { repair };
        command.SetAction(async (parse, cancellationToken) =>
        {
            TextWriter output = global.Console.Out;
            bool repairing = parse.GetValue(repair);
            Lab lab;
            try
            {
                lab = global.OpenLab(parse);
            }
            catch (DispatchException e) when (e.ErrorCode == ErrorCodes.StateUnsafe)
            {
                output.WriteLine($"FAIL  {"state dir",-11} {e.Message}");
                if (!repairing || !MakePrivate(global, parse, output))
                {
                    output.WriteLine(repairing
                        ? "repair: it is not yours to change; its owner (or root, with chown) must"
                        : "'testdispatch doctor --repair' makes it 0700 if it is yours.");
                    return ExitCodes.Infrastructure;
                }
                lab = global.OpenLab(parse);
            }
            output.WriteLine($"ok    config      {lab.Config.Machines.Count} machines");
            if (repairing)
            {
                foreach ((string path, UnixFileMode mode) in StateModes.Tighten(lab.FileSystem, lab.Store.Paths))
                {
                    output.WriteLine($"repair: {path} was {StateDirectory.Octal(mode)}; made private");
                }
            }
            IReadOnlyList<Finding> findings = HealthCheck.Run(lab);
            Write(output, findings);
            foreach (Machine machine in lab.Config.Machines.Where(m => m.Transport == TransportKind.Ssh))
            {
                IReadOnlyList<Finding> checks = await SshCheck.RunAsync(machine, lab.Store.Paths, cancellationToken);
                Write(output, checks);
                findings = [.. findings, .. checks];
            }

            if (repairing)
            {
                RepairReport report = StoreRepair.Repair(lab.FileSystem, lab.Locks, lab.Store.Paths.Root);
                if (!report.WasDamaged)
                {
                    output.WriteLine("repair: the store is not damaged; nothing was changed");
                }
                else
                {
                    output.WriteLine($"repair: kept {report.RunsKept} runs; dropped {report.LinesDropped} unreadable journal lines" +
                        (report.SnapshotLost ? "; the snapshot was unreadable, so runs only it held are gone from the store" : "") +
                        (report.EntriesLost is { } lost ? $"; the entries of batch {string.Join(", ", lost)} were unreadable: the batch and its runs are kept, its plan entries are gone" : ""));
                    if (report.History is { } history)
                    {
                        output.WriteLine($"repair: rebuilt history's index from {history.Segments} segments ({history.Records} records; " +
                            $"{history.LinesDropped} unreadable lines dropped)");
                    }
                    foreach (string backup in report.Backups)
                    {
                        output.WriteLine($"repair: backup kept at {backup}");
                    }
                    findings = HealthCheck.Run(Lab.Open(lab.Config));
                    Write(output, findings);
                }
            }
            else if (findings.Any(f => f.Subject == "store" && f.Health == Health.Failure))
            {
                output.WriteLine("The store is damaged. 'testdispatch doctor --repair' rebuilds it from what is readable, keeping backups.");
            }
            return findings.Any(f => f.Health == Health.Failure) ? ExitCodes.Infrastructure : ExitCodes.Passed;
        });
        return command;
    }

    /// <summary>A state dir others may write to, made 0700 again; not one another user owns (that takes root's chown).</summary>
    private static bool MakePrivate(GlobalOptions global, ParseResult parse, TextWriter output)
    {
        FileSystem fs = new();
        string root = fs.Path.GetFullPath(global.LoadConfig(parse).StateDir);
        if (!StateDirectory.MakePrivate(fs, root))
        {
            return false;
        }
        output.WriteLine($"repair: {root} made 0700; check that nothing in it was put there by someone else");
        return true;
    }

    private static void Write(TextWriter output, IReadOnlyList<Finding> findings)
    {
        foreach (Finding finding in findings)
        {
            string level = finding.Health switch
            {
                Health.Ok => "ok",
                Health.Warning => "warn",
                _ => "FAIL",
            };
            output.WriteLine($"{level,-5} {finding.Subject,-11} {finding.Message}");
        }
    }
}
