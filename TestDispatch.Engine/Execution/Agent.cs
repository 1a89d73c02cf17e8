using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// The one background process per state dir that executes runs (DESIGN §6). Holds agent.lock for its
/// whole life (its liveness signal), recovers orphans at start, keeps one loop per machine with work,
/// and exits after the configured idle time. A run's failure never blocks the runs behind it.
/// </summary>
public sealed class Agent(Lab lab, RunExecutor executor, TextWriter log)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);
    private readonly Dictionary<string, MachineLoop> _loops = [];

    /// <summary>
    /// What the agent's process needs before it runs tests: SIGPIPE at its default action, which every test inherits as it
    /// would from a shell (.NET ignores it). Started by a client, the agent writes only to files (the journal, logs,
    /// agent.log). Run by hand with its output into a pipe, it ends when that pipe closes, like any Unix program; its
    /// tests are then recovered as agent_lost.
    /// </summary>
    public static void PrepareProcess() => Libc.RestoreDefaultSigpipe();

    /// <summary>Runs until idle for the configured time or <paramref name="cancellationToken"/>; 0 also when another agent is already running.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        RunStore store = lab.Store;
        using StoreWatcher watcher = new(lab.FileSystem, store.Paths.Root);
        // A client probing agent.lock holds it for a moment; wait that out rather than exit for nothing.
        IDisposable? held = AgentLock.TryTake(lab, TimeSpan.FromSeconds(2));
        if (held is null)
        {
            log.WriteLine($"{Now()} another agent holds {store.Paths.AgentLock}; exiting");
            return 0;
        }
        log.WriteLine($"{Now()} agent {Environment.ProcessId} started on {store.Paths.Root}");
        try
        {
            while (true)
            {
                foreach (Run lost in Recovery.Sweep(store, lab.Clock))
                {
                    log.WriteLine($"{Now()} run {lost.Id} was running under a dead agent: marked interrupted (agent_lost)");
                }
                await ServeUntilIdleAsync(watcher, cancellationToken);
                if (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                // Idle: let go of agent.lock, then look once more. Work prepared before this look is ours
                // (take the lock back); work prepared after it finds the lock free and starts a new agent.
                held.Dispose();
                held = null;
                if (!lab.HasWork() ||
                    (held = lab.Locks.TryAcquire(store.Paths.AgentLock)) is null)
                {
                    break;
                }
            }
        }
        finally
        {
            held?.Dispose();
        }
        log.WriteLine($"{Now()} agent {Environment.ProcessId} exiting");
        return 0;
    }

    private async Task ServeUntilIdleAsync(StoreWatcher watcher, CancellationToken cancellationToken)
    {
        DateTimeOffset idleSince = lab.Clock.GetUtcNow();
        while (true)
        {
            // Finished loops go first, so a loop that ended just before new work arrived is started again below.
            foreach ((string machine, MachineLoop loop) in _loops.Where(l => l.Value.Task.IsCompleted).ToList())
            {
                _loops.Remove(machine);
                await loop.Task;
            }
            if (cancellationToken.IsCancellationRequested)
            {
                // Stopping: start nothing more; the loops see the same token, stop their tests and record them. Wait for them.
                if (_loops.Count == 0)
                {
                    return;
                }
                await Task.WhenAny(_loops.Values.Select(l => l.Task));
                continue;
            }
            IReadOnlyList<RunRecord> active = lab.Store.Active();
            foreach (RunRecord record in active)
            {
                string machine = record.Run.Machine;
                if (record.Run.Status == RunStatus.Pending && !_loops.ContainsKey(machine))
                {
                    _loops[machine] = StartLoop(machine, watcher, cancellationToken);
                }
                if (record.CancelRequestedAt is not null && _loops.TryGetValue(machine, out MachineLoop? loop))
                {
                    loop.Cancel(record.Id);
                }
            }
            // Batch items wait for any free machine they may run on.
            List<Machine> unserved = [.. lab.Config.Machines.Where(m => m.CanRunTests && !_loops.ContainsKey(m.Name))];
            if (unserved.Count > 0)
            {
                foreach (Machine machine in lab.Store.FreeWithWaitingItems(unserved))
                {
                    _loops[machine.Name] = StartLoop(machine.Name, watcher, cancellationToken);
                }
            }

            if (_loops.Count > 0 || active.Count > 0)
            {
                idleSince = lab.Clock.GetUtcNow();
            }
            else if (lab.Clock.GetUtcNow() - idleSince >= lab.Config.Defaults.AgentIdle)
            {
                return;
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

    /// <summary>
    /// Starts a machine's loop; its end wakes the agent. Work that arrives while a loop is ending finds the machine still
    /// "served" and starts nothing; the wake makes the agent look again at once instead of at the next poll.
    /// </summary>
    private MachineLoop StartLoop(string machine, StoreWatcher watcher, CancellationToken agentStopping)
    {
        // A machine this build cannot run tests on (or one no longer configured) gets a loop only to end the runs
        // dispatched to it: it takes no batch items, which would fail there rather than run on a machine that can.
        IReadOnlyList<string>? tags = lab.Config.FindMachine(machine) is { CanRunTests: true } runnable ? runnable.Tags : null;
        MachineLoop loop = MachineLoop.Start(machine, tags, lab.Store, executor, agentStopping);
        _ = loop.Task.ContinueWith(_ => watcher.Wake(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return loop;
    }

    private string Now() => UtcTimestampConverter.Format(lab.Clock.GetUtcNow());
}
