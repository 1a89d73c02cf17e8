using System.CommandLine;
using System.Runtime.InteropServices;
using TestDispatch.Engine;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Transports;
using TestDispatch.Engine.Transports.Ssh;

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
                try
                {
                    stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // System.CommandLine's own SIGTERM handler ran first: the agent has already stopped and is exiting.
                }
            });
            LocalTransport local = new(lab.Store.Paths);
            // A master outlives its agent by half a minute at most: ControlPersist counts while no session is open.
            await using SshTransports ssh = new(lab.Store.Paths, lab.Config.Defaults.AgentIdle + TimeSpan.FromSeconds(30), log);
            RunExecutor executor = new(lab.Store, lab.Config, m => m.Transport == TransportKind.Ssh ? ssh.For(m) : local, lab.Clock, log);
            Task checking = CheckIdleMachinesAsync(lab, ssh, stop.Token);
            int exit = await new Agent(lab, executor, log).RunAsync(stop.Token);
            await stop.CancelAsync();
            await checking;
            return exit;
        });
        return command;
    }

    /// <summary>While the agent runs: the ssh machines with no run of their own get a look at most once a minute (reachability).</summary>
    private static async Task CheckIdleMachinesAsync(Lab lab, SshTransports ssh, CancellationToken stopping)
    {
        using PeriodicTimer timer = new(TimeSpan.FromSeconds(10));
        try
        {
            do
            {
                HashSet<string> busy;
                try
                {
                    busy = [.. lab.Store.Active().Select(r => r.Run.Machine)];
                }
                catch (Exception e) when (e is DispatchException or IOException)
                {
                    continue;
                }
                await ssh.CheckIdleAsync(lab.Config.Machines.Where(m => !busy.Contains(m.Name)), stopping);
            }
            while (await timer.WaitForNextTickAsync(stopping));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
