using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Diagnostics;
using TestDispatch.Engine.Errors;
using TestDispatch.Tui.Text;

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
                Write(output, new Finding(Health.Failure, "state dir", e.Message));
                if (!repairing || !Lab.MakeStateDirPrivate(global.LoadConfig(parse)))
                {
                    output.WriteLine(repairing
                        ? "repair: it is not yours to change; its owner (or root, with chown) must"
                        : "'testdispatch doctor --repair' makes it 0700 if it is yours.");
                    return ExitCodes.Infrastructure;
                }
                lab = global.OpenLab(parse);
                output.WriteLine($"repair: {lab.StateDir} made 0700; check that nothing in it was put there by someone else");
            }
            bool healthy = await lab.DoctorAsync(repairing, finding => Write(output, finding), cancellationToken);
            return healthy ? ExitCodes.Passed : ExitCodes.Infrastructure;
        });
        return command;
    }

    /// <summary>
    /// A finding, its message made safe for the terminal line by line (a path with an ESC in it is a user's file name, never
    /// a command to the terminal); a message of several lines keeps them.
    /// </summary>
    private static void Write(TextWriter output, Finding finding)
    {
        finding = finding with { Message = string.Join('\n', finding.Message.Split('\n').Select(TerminalText.Escape)) };
        switch (finding.Health)
        {
            case Health.Repaired:
                output.WriteLine($"repair: {finding.Message}");
                break;
            case Health.Advice:
                output.WriteLine(finding.Message);
                break;
            default:
                string level = finding.Health switch
                {
                    Health.Ok => "ok",
                    Health.Warning => "warn",
                    _ => "FAIL",
                };
                output.WriteLine($"{level,-5} {finding.Subject,-11} {finding.Message}");
                break;
        }
    }
}
