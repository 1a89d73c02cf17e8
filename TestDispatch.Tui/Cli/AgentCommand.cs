using System.CommandLine;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>agent [--background]</c>: the process that executes runs. Clients start it by themselves, under a keeper that starts
/// it again if it dies with work left; run it by hand only to watch it work. SIGTERM or Ctrl+C stop the agent only: its
/// runs go on under their wrappers (exit 75 then), and the next agent takes them over.
/// </summary>
public static class AgentCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> background = new("--background") { Description = "Detach stdio to agent.log (how clients start it)" };
        Option<bool> successor = new("--successor") { Description = "Take over from an agent that is letting go (its keeper died): wait for agent.lock" };
        Command command = new("agent", "Execute pending runs until idle (started on demand by other commands)") { background, successor };
        command.SetAction(async (parse, cancellationToken) =>
            await global.OpenLab(parse).RunAgentAsync(parse.GetValue(background), parse.GetValue(successor), cancellationToken));
        return command;
    }
}
