using System.IO.Abstractions;
using System.Runtime.InteropServices;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// The one background process per state dir that executes runs (docs/DESIGN.md §6). Holds agent.lock for its whole life (its
/// liveness signal), keeps one loop per machine with work, and exits after the configured idle time. It follows runs
/// and never owns them: each run's wrapper does. So at start it takes over every run still marked running (an earlier
/// agent died or was stopped under it), and when it is stopped its runs go on, for the next agent to take over.
/// </summary>
public sealed class Agent(RunStore store, Fleet fleet, LabConfig config, IFileSystem fs, IFileLocks locks, RunExecutor executor, TimedLog log, TimeProvider clock,
    Janitor? janitor = null, KeeperWatch? keeper = null, bool successor = false)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);
    private readonly Dictionary<string, MachineLoop> _loops = [];

    /// <summary>
    /// What the agent's process needs before it runs tests: SIGPIPE caught (by a handler that does nothing), never ignored
    /// (.NET's default) nor at its default action. A caught signal goes back to its default action in every program the
    /// agent starts, so a test gets SIGPIPE as it would from a shell; and the agent, which writes to ssh's stdin, gets EPIPE
    /// when ssh died (sshd gone) instead of being killed by it.
    /// </summary>
    public static void PrepareProcess()
    {
        if (s_sigpipe is null)
        {
            // .NET installs no handler for a signal that is ignored (docs/DESIGN.md §6): default first, then caught.
            Libc.RestoreDefaultSigpipe();
            s_sigpipe = PosixSignalRegistration.Create((PosixSignal)Libc.SIGPIPE, context => context.Cancel = true);
        }
    }

    private static PosixSignalRegistration? s_sigpipe;

    /// <summary>Whether this agent holds agent.lock and serves the state dir now (so it alone may clean up after runs).</summary>
    public bool Serving { get; private set; }

    /// <summary>What the agent exits with when it was stopped while runs went on: its keeper starts it again.</summary>
    public const int StoppedWithWorkLeft = 75;

    /// <summary>
    /// Runs until idle for the configured time (0), or until <paramref name="cancellationToken"/> or its keeper's death stop
    /// it (<see cref="StoppedWithWorkLeft"/> if runs go on, else 0); 0 also when another agent is already running.
    /// </summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        using DirectoryWatcher watcher = new(fs, store.Paths.Root);
        // A client probing agent.lock holds it for a moment; wait that out rather than exit for nothing. A successor waits
        // for the agent it succeeds to let go.
        IDisposable? held = AgentLock.TryTake(locks, store.Paths, successor ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(2));
        if (held is null)
        {
            log.Write($"another agent holds {store.Paths.AgentLock}; exiting");
            return 0;
        }
        log.Write($"agent {Environment.ProcessId} started on {store.Paths.Root}" + (keeper is null ? "" : $", kept by keeper {keeper.Keeper}") +
            $"; configuration: {config.Source}");
        WritePidFile();
        Serving = true;
        if (janitor is not null)
        {
            // What an agent before this one left behind on this host (it cannot have left a run of ours going here).
            foreach (Machine local in config.Machines.Where(m => m.Transport == TransportKind.Local))
            {
                await janitor.SweepAsync(local, cancellationToken);
            }
        }
        if (watcher.WhyPolling is { } why)
        {
            log.Write($"inotify cannot be had ({why}): looking for changes every {Poll.TotalMilliseconds:0} ms instead");
        }
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            while (true)
            {
                await ServeUntilIdleAsync(watcher, () => held, stop);
                if (stop.IsCancellationRequested)
                {
                    break;
                }
                // Idle: let go of agent.lock, then look once more. Work prepared before this look is ours
                // (take the lock back); work prepared after it finds the lock free and starts a new agent.
                held.Dispose();
                held = null;
                if (!fleet.HasWork() ||
                    (held = locks.TryAcquire(store.Paths.AgentLock)) is null)
                {
                    break;
                }
            }
        }
        finally
        {
            Serving = false;
            held?.Dispose();
        }
        int left = stop.IsCancellationRequested ? Running() : 0;
        log.Write($"agent {Environment.ProcessId} exiting" + (left > 0 ? $"; {left} runs go on, for the next agent to follow" : ""));
        return left > 0 ? StoppedWithWorkLeft : 0;
    }

    /// <param name="held">agent.lock as this agent holds it.</param>
    /// <param name="stop">Stops the agent: its owner's (SIGTERM), or this agent's own once agent.lock is no longer its own.</param>
    private async Task ServeUntilIdleAsync(DirectoryWatcher watcher, Func<IDisposable?> held, CancellationTokenSource stop)
    {
        CancellationToken cancellationToken = stop.Token;
        DateTimeOffset idleSince = clock.GetUtcNow();
        while (true)
        {
            // If agent.lock was removed or replaced (or the whole state dir), the next client finds no agent and starts
            // one: two agents would follow the same runs. Stand down: the runs go on, the other agent takes them over.
            if (!cancellationToken.IsCancellationRequested && keeper is { Gone: true } && !_handedOver)
            {
                // Killed keeper: nothing would bring this agent back if it died now. A new keeper and agent take over.
                _handedOver = true;
                log.Write($"keeper {keeper.Keeper} is gone: starting a new keeper, whose agent takes this one's runs over");
                try
                {
                    await keeper.StartSuccessorAsync();
                    await stop.CancelAsync();
                }
                catch (DispatchException e)
                {
                    log.Write($"could not start a new keeper ({e.Message}); going on without one");
                }
            }
            if (!cancellationToken.IsCancellationRequested && held() is { } own && !StillOurs(own))
            {
                log.Write($"{store.Paths.AgentLock} is no longer the file this agent locked (removed, replaced, " +
                    "or the state dir is gone): stopping; its runs go on for the next agent");
                await stop.CancelAsync();
            }
            // Finished loops go first, so a loop that ended just before new work arrived is started again below.
            foreach ((string machine, MachineLoop loop) in _loops.Where(l => l.Value.Task.IsCompleted).ToList())
            {
                _loops.Remove(machine);
                await loop.Task;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                // Stopping: start nothing more; the loops stop following (their runs go on). Wait for them.
                if (_loops.Count == 0)
                {
                    return;
                }
                await Task.WhenAny(_loops.Values.Select(l => l.Task));
                continue;
            }
            bool busy = _loops.Count > 0;
            try
            {
                busy |= StartLoops(watcher, cancellationToken);
            }
            catch (Exception e) when (e is DispatchException or IOException or UnauthorizedAccessException)
            {
                // The loops already running go on; this look is tried again at the next turn.
                log.Write($"could not read the store to find work: {e.Message}; trying again");
                busy = true;
            }
            if (busy)
            {
                idleSince = clock.GetUtcNow();
            }
            else if (clock.GetUtcNow() - idleSince >= config.Defaults.AgentIdle)
            {
                return;
            }
            else
            {
                _retention ??= new IdlePrune(store, config.Retention, log, clock);
                _retention.WhenIdle(idleSince);
            }
            try
            {
                await watcher.WaitAsync(Poll, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Stopping: handled at the top of the loop.
            }
        }
    }

    /// <summary>Starts a loop for each machine with an active run or a waiting batch item it may take; passes cancels on. True if anything is active.</summary>
    private bool StartLoops(DirectoryWatcher watcher, CancellationToken cancellationToken)
    {
        foreach (string problem in fleet.StartDueChecks())
        {
            log.Write($"{problem}");
        }
        Placement placement = fleet.Placement();
        // A queue held on a machine out of service (drained, unhealthy, dirty) is no work until it is back.
        IReadOnlyList<RunRecord> active = [.. store.Active().Where(r => r.Run.Status == RunStatus.Running || placement.MayStart(r))];
        foreach (RunRecord record in active)
        {
            string machine = record.Run.Machine;
            if (!_loops.ContainsKey(machine))
            {
                _loops[machine] = StartLoop(machine, watcher, cancellationToken);
            }
            if (record.CancelRequestedAt is not null && _loops.TryGetValue(machine, out MachineLoop? loop))
            {
                loop.Cancel(record.Id);
            }
        }
        // Batch items wait for any free machine they may run on.
        List<Machine> unserved = [.. config.Machines.Where(m => m.CanRunTests && !_loops.ContainsKey(m.Name) && placement.InService(m.Name))];
        if (unserved.Count > 0)
        {
            foreach (Machine machine in store.FreeWithWaitingItems(unserved, placement))
            {
                _loops[machine.Name] = StartLoop(machine.Name, watcher, cancellationToken);
            }
        }
        return active.Count > 0 || _loops.Count > 0;
    }

    /// <summary>
    /// Starts a machine's loop; its end wakes the agent. Work that arrives while a loop is ending finds the machine still
    /// "served" and starts nothing; the wake makes the agent look again at once instead of at the next poll.
    /// </summary>
    private MachineLoop StartLoop(string machine, DirectoryWatcher watcher, CancellationToken agentStopping)
    {
        // A machine this build cannot run tests on (or one not in this agent's configuration) gets a loop only for the runs
        // dispatched to it: it takes no batch items, which would fail there rather than run on a machine that can.
        Machine? batchTarget = config.FindMachine(machine) is { CanRunTests: true } runnable ? runnable : null;
        MachineLoop loop = MachineLoop.Start(machine, batchTarget, store, fleet, executor, log, agentStopping);
        _ = loop.Task.ContinueWith(_ => watcher.Wake(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return loop;
    }

    private bool StillOurs(IDisposable held)
    {
        try
        {
            return locks.StillHolds(held, store.Paths.AgentLock);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private int Running()
    {
        try
        {
            return store.Active().Count(r => r.Run.Status == RunStatus.Running);
        }
        catch (Exception e) when (e is DispatchException or IOException)
        {
            return 0;
        }
    }

    private IdlePrune? _retention;

    private bool _handedOver;

    /// <summary>
    /// agent.pid: this agent's pid and its keeper's (0 without one), and agent.config: the configuration it runs with; for
    /// clients, doctor and people; advice, never a lock.
    /// </summary>
    private void WritePidFile()
    {
        string path = Path.Combine(store.Paths.Root, "agent.pid");
        try
        {
            File.WriteAllText(path + ".tmp", $"{Environment.ProcessId} {keeper?.Keeper ?? 0}\n");
            File.SetUnixFileMode(path + ".tmp", FileModes.PrivateFile);
            File.Move(path + ".tmp", path, overwrite: true);
            AgentConfigFile.Write(store.Paths.Root, config);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Write($"could not write {path} or {AgentConfigFile.Name}: {e.Message}");
        }
    }

}
