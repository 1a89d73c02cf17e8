using System.IO.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine;

/// <summary>
/// The engine's front door: what the CLI and the TUI both call. Holds the configuration and the store
/// of one state dir; the faces translate its results into text, never add rules of their own.
/// Clients only prepare runs and make sure the agent is up; the agent executes them.
/// </summary>
public sealed class Lab(LabConfig config, RunStore store, IFileSystem fs, IFileLocks locks, AgentLauncher? launcher = null)
{
    private static readonly TimeSpan AgentCheckEvery = TimeSpan.FromSeconds(2);

    public LabConfig Config => config;

    public RunStore Store => store;

    public IFileSystem FileSystem => fs;

    public IFileLocks Locks => locks;

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>A lab on the real disk with the real flock, at the configured state dir.</summary>
    public static Lab Open(LabConfig config, AgentLauncher? launcher = null)
    {
        FileSystem fs = new();
        FlockFileLocks locks = new();
        return new Lab(config, new RunStore(fs, locks, config.StateDir), fs, locks, launcher);
    }

    public IReadOnlyList<MachineState> Machines()
    {
        Dictionary<string, RunRecord> active = [];
        foreach (RunRecord record in store.Active())
        {
            active.TryAdd(record.Run.Machine, record);
        }
        return [.. config.Machines.Select(machine => new MachineState(machine)
        {
            State = active.ContainsKey(machine.Name) ? MachineState.Busy : MachineState.Idle,
            CurrentRun = active.GetValueOrDefault(machine.Name)?.Id,
            LastStatus = store.LastFinishedOn(machine.Name)?.Run.Status,
        })];
    }

    public IReadOnlyList<Run> Runs(RunFilter filter) => [.. store.List(filter).Select(r => r.Run)];

    /// <summary>The run with this id or unique id prefix.</summary>
    public Run Show(string idOrPrefix) => store.Find(idOrPrefix).Run;

    public Machine RequireMachine(string name) => config.FindMachine(name) ?? throw new DispatchException(
        ErrorCodes.MachineUnknown,
        $"no machine named '{name}'; configured machines: {string.Join(", ", config.Machines.Select(m => m.Name))}");

    /// <summary>
    /// Prepares a run of <paramref name="testDir"/> on <paramref name="machine"/> (DESIGN §4.2) and makes
    /// sure the agent will execute it. Busy is an outcome, not an exception: the caller decides.
    /// </summary>
    public async Task<PrepareOutcome> DispatchAsync(string testDir, string machine, IReadOnlyList<string>? command = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        RequireMachine(machine);
        string directory = Path.TrimEndingDirectorySeparator(fs.Path.GetFullPath(testDir));
        string hash = TestDirHasher.Compute(fs, testDir); // its error shows the path as typed and as resolved
        if (timeout is { } t && t <= TimeSpan.Zero)
        {
            throw new DispatchException(ErrorCodes.BadInput, $"timeout {t} must be more than zero");
        }
        TestManifest? manifest = TestManifest.Read(fs, directory);
        RunSpec spec = new(
            command is { Count: > 0 } ? command : manifest?.Command ?? config.Defaults.Command,
            timeout ?? manifest?.Timeout ?? config.Defaults.Timeout);
        PrepareOutcome outcome = store.Prepare(new PrepareRequest(machine, directory, hash, spec));
        if (outcome.Kind != PrepareKind.Busy)
        {
            await EnsureAgentAsync(cancellationToken);
        }
        return outcome;
    }

    /// <summary>Dispatches a run's test dir again to its machine, with the same command and time limit.</summary>
    public async Task<PrepareOutcome> RedispatchAsync(string idOrPrefix, CancellationToken cancellationToken = default)
    {
        RunRecord record = store.Find(idOrPrefix);
        return await DispatchAsync(record.Run.TestDir, record.Run.Machine, record.Spec.Command, record.Spec.Timeout, cancellationToken);
    }

    /// <summary>
    /// Cancels a run: a pending one ends at once without starting; a running one is asked to stop (the
    /// agent gives its process group SIGTERM, then SIGKILL). Returns the run as it is after the request.
    /// </summary>
    public async Task<Run> CancelAsync(string idOrPrefix, CancellationToken cancellationToken = default)
    {
        string id = store.Find(idOrPrefix).Id;
        RunRecord after = store.Update(id, r => r.Run.Status switch
        {
            RunStatus.Pending => r with
            {
                CancelRequestedAt = Clock.GetUtcNow(),
                Run = r.Run with
                {
                    Status = RunStatus.Interrupted,
                    EndedAt = Clock.GetUtcNow(),
                    ErrorCode = ErrorCodes.Interrupted,
                    ErrorMsg = "cancelled before it started",
                },
            },
            RunStatus.Running when r.CancelRequestedAt is null => r with { CancelRequestedAt = Clock.GetUtcNow() },
            _ => r,
        });
        if (after.Run.Status == RunStatus.Running)
        {
            await EnsureAgentAsync(cancellationToken);
        }
        return after.Run;
    }

    /// <summary>Waits until the run is terminal (a completion handle over the store). Never touches the run itself.</summary>
    public async Task<Run> WaitAsync(string id, CancellationToken cancellationToken = default)
    {
        using StoreWatcher watcher = new(fs, store.Paths.Root);
        DateTime nextAgentCheck = DateTime.UtcNow + AgentCheckEvery;
        while (true)
        {
            Run run = store.Get(id).Run;
            if (run.Status.IsTerminal())
            {
                return run;
            }
            if (DateTime.UtcNow >= nextAgentCheck)
            {
                // If the agent died, this sweeps the run to agent_lost instead of waiting forever.
                await EnsureAgentAsync(cancellationToken);
                nextAgentCheck = DateTime.UtcNow + AgentCheckEvery;
            }
            await watcher.WaitAsync(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }

    /// <summary>
    /// Makes sure an agent will execute pending work: if agent.lock is free, no agent is alive, so runs
    /// still marked running lost theirs (they are swept to agent_lost) and, if work is pending, an agent
    /// is started. Safe to call from any client at any time.
    /// </summary>
    public async Task EnsureAgentAsync(CancellationToken cancellationToken = default)
    {
        using (IDisposable? probe = locks.TryAcquire(store.Paths.AgentLock))
        {
            if (probe is null)
            {
                return;
            }
            Recovery.Sweep(store, Clock);
        }
        // After letting go of agent.lock: see AgentLock for why this check must come after.
        if (launcher is not null && store.Active().Any(r => r.Run.Status == RunStatus.Pending))
        {
            await launcher.StartAsync(store.Paths.Root, cancellationToken);
        }
    }
}
