using System.CommandLine;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>agent [--background]</c>: the process that executes runs. Clients start it by themselves; run it
/// by hand only to watch it work. SIGTERM or Ctrl+C stop the agent only: its runs go on under their wrappers,
/// and the next agent (started by any client) takes them over.
/// </summary>
public static class AgentCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> background = new("--background") { Description = "Detach stdio to agent.log (how clients start it)" };
        Command command = new("agent", "Execute pending runs until idle (started on demand by other commands)") { background };
        command.SetAction(async (parse, cancellationToken) =>
            await global.OpenLab(parse).RunAgentAsync(parse.GetValue(background), cancellationToken));
        return command;
    }
}
