using System.CommandLine;
using System.Runtime.InteropServices;
using TestDispatch.Engine;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Transports;

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
        {
            Lab lab = global.OpenLab(parse);
            Agent.PrepareProcess();
            TextWriter log = parse.GetValue(background) ? AgentConsole.RedirectTo(lab.Store.Paths.AgentLog) : Console.Out;
            using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using PosixSignalRegistration onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            LocalTransport local = new(lab.Store.Paths);
            RunExecutor executor = new(lab.Store, lab.Config, _ => local, lab.Clock, log);
            return await new Agent(lab, executor, log).RunAsync(stop.Token);
        });
        return command;
    }
}
