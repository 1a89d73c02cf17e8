using System.IO.Abstractions;
using System.Runtime.InteropServices;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Transports;
using TestDispatch.Engine.Transports.Ssh;
using TestDispatch.Engine.Transports.Slurm;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// The agent's process, put together: its stdio moved to agent.log when it runs in the background, SIGPIPE caught (every
/// test gets it at its default action, as from a shell; ssh gone is EPIPE to the agent, never its death), SIGTERM stopping only the agent (its runs go on), one transport per
/// kind of machine (ssh contacts recorded for <c>machines</c>), and, while it runs, a look at idle machines.
/// </summary>
internal static class AgentHost
{
    /// <param name="launcher">Starts a new keeper and agent, should this agent's keeper die.</param>
    /// <param name="successor">Taking over from an agent whose keeper died: wait for it to let go of agent.lock.</param>
    public static async Task<int> RunAsync(RunStore store, Fleet fleet, LabConfig config, IFileSystem fs, IFileLocks locks, TimeProvider clock,
        AgentLauncher? launcher, bool background, bool successor, CancellationToken cancellationToken)
    {
        Agent.PrepareProcess();
        TimedLog log = new(background ? AgentConsole.RedirectTo(store.Paths.AgentLog) : Console.Out, clock);
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
                // The command line's own SIGTERM handler ran first: the agent has already stopped and is exiting.
            }
        });
        LocalTransport local = new();
        // A master outlives its agent by half a minute at most: ControlPersist counts while no session is open.
        await using SshTransports ssh = new(store.Paths.Root, config.Defaults.AgentIdle + TimeSpan.FromSeconds(30), log);
        ReachabilityFile reachability = new(store.Paths);
        ssh.Contact += reachability.Record;
        using SlurmTransports slurm = new(log);
        ITransport For(Machine machine) => machine.Transport switch
        {
            TransportKind.Ssh => ssh.For(machine),
            TransportKind.Slurm => slurm.For(machine),
            _ => local,
        };
        RunExecutor executor = new(store, config, For, clock, log);
        Janitor janitor = new(store, fleet, config, For, log);
        KeeperWatch? keeper = launcher is not null && KeeperWatch.OfThisProcess() is { } keeperPid
            ? new KeeperWatch(keeperPid, () => launcher.StartAsync(store.Paths.Root, successor: true))
            : null;
        Agent agent = new(store, fleet, config, fs, locks, executor, log, clock, janitor, keeper, successor);
        Task checking = CheckIdleMachinesAsync(store, config, ssh, reachability, () => agent.Serving ? janitor : null, log, stop.Token);
        try
        {
            int exit = await agent.RunAsync(stop.Token);
            await stop.CancelAsync();
            await checking;
            return exit;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Said where whoever looks for it will look (a background agent's stderr is gone); its keeper starts it again.
            log.Write($"agent {Environment.ProcessId} failed: {e}");
            throw;
        }
    }

    /// <summary>
    /// While the agent runs: the ssh machines with no run of their own get a look at most once a minute (reachability, and
    /// who holds the machine's lock, from whatever state dir), the local ones a look at their lock every ten seconds, and,
    /// while the agent serves, a sweep of what runs that are over left on the others (see <see cref="Janitor"/>).
    /// </summary>
    private static async Task CheckIdleMachinesAsync(RunStore store, LabConfig config, SshTransports ssh, ReachabilityFile reachability, Func<Janitor?> janitor,
        TimedLog log, CancellationToken stopping)
    {
        using PeriodicTimer timer = new(TimeSpan.FromSeconds(10));
        try
        {
            do
            {
                HashSet<string> busy;
                try
                {
                    // Only a run under way keeps its machine busy: one queued behind a held machine must not keep it from its sweep.
                    busy = [.. store.Active().Where(r => r.Run.Status == RunStatus.Running).Select(r => r.Run.Machine)];
                }
                catch (Exception e) when (e is DispatchException or IOException)
                {
                    continue;
                }
                Machine[] idle = [.. config.Machines.Where(m => m.Transport != TransportKind.Local && !busy.Contains(m.Name))];
                Machine[] idleHere = [.. config.Machines.Where(m => m.Transport == TransportKind.Local && m.CanRunTests && !busy.Contains(m.Name))];
                try
                {
                    // A local machine's look is one sh on this host: at every tick. An ssh machine's follows its reachability look.
                    foreach (Machine answered in idleHere.Concat(await ssh.CheckIdleAsync(idle, stopping)))
                    {
                        DateTimeOffset looked = DateTimeOffset.UtcNow;
                        if (await LockLook.LookAsync(answered, store.Paths.Root, stopping) is { Error: null } look)
                        {
                            reachability.Held(answered.Name, look.HeldBy, looked);
                        }
                    }
                    foreach (Machine machine in idle)
                    {
                        if (janitor() is { } sweeping)
                        {
                            await sweeping.SweepAsync(machine, stopping);
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // One bad tick must not end the checks for the agent's whole life: said, and tried again at the next.
                    log.Write($"checking idle machines failed, trying again in 10s: {e}");
                }
            }
            while (await timer.WaitForNextTickAsync(stopping));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
