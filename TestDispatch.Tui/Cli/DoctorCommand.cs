using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Diagnostics;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>doctor [--repair]</c>: checks the configuration (by loading it), the state dir, the store, the agent
/// and the programs the transports need. <c>--repair</c> rebuilds a damaged store from what is readable,
/// keeping a backup of every file first. Exits 0 when nothing failed, 4 otherwise.
/// </summary>
public static class DoctorCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> repair = new("--repair") { Description = "Rebuild a damaged store from what is readable (backups are kept)" };
        Command command = new("doctor", "Check the configuration, state dir, store, agent and needed programs") { repair };
        command.SetAction(parse =>
        {
            Lab lab = global.OpenLab(parse);
            TextWriter output = global.Console.Out;
            output.WriteLine($"ok    config      {lab.Config.Machines.Count} machines");
            IReadOnlyList<Finding> findings = HealthCheck.Run(lab);
            Write(output, findings);

            if (parse.GetValue(repair))
            {
                RepairReport report = StoreRepair.Repair(lab.FileSystem, lab.Locks, lab.Store.Paths.Root);
                if (!report.WasDamaged)
                {
                    output.WriteLine("repair: the store is not damaged; nothing was changed");
                }
                else
                {
                    output.WriteLine($"repair: kept {report.RunsKept} runs; dropped {report.LinesDropped} unreadable journal lines" +
                        (report.SnapshotLost ? "; the snapshot was unreadable, so runs only it held are gone from the store" : ""));
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
