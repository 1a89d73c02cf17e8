using System.IO.Abstractions;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine;

/// <summary>
/// The engine's front door, and the only one: what the CLI and the TUI both call (Lab.*.cs by concern). Holds the
/// configuration and the store of one state dir; the faces translate its results (runs, batches, machines) into text,
/// never add rules of their own. Clients only prepare runs and make sure the agent is up; the agent executes them.
/// </summary>
public sealed partial class Lab
{
    private static readonly TimeSpan AgentCheckEvery = TimeSpan.FromSeconds(2);

    private readonly LabConfig _config;
    private readonly RunStore _store;
    private readonly IFileSystem _fs;
    private readonly IFileLocks _locks;
    private readonly AgentLauncher? _launcher;

    /// <summary>What Slurm last said of the Slurm machines' nodes, and when (see <see cref="MachinesAsync"/>).</summary>
    private (DateTimeOffset At, IReadOnlyDictionary<string, string> Nodes)? _slurm;

    internal Lab(LabConfig config, RunStore store, IFileSystem fs, IFileLocks locks, AgentLauncher? launcher = null)
    {
        _config = config;
        _store = store;
        _fs = fs;
        _locks = locks;
        _launcher = launcher;
    }

    public LabConfig Config => _config;

    internal RunStore Store => _store;

    internal IFileSystem FileSystem => _fs;

    internal IFileLocks Locks => _locks;

    internal TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>
    /// A lab on the real disk with the real flock, at the configured state dir. With <paramref name="agentProgram"/> (the
    /// command that runs testdispatch), it starts the agent when there is work for it, passing it
    /// <paramref name="agentArguments"/>; without, it never starts one.
    /// </summary>
    public static Lab Open(LabConfig config, IReadOnlyList<string>? agentProgram = null, IReadOnlyList<string>? agentArguments = null)
    {
        FileSystem fs = new();
        FlockFileLocks locks = new();
        return new Lab(config, new RunStore(fs, locks, config.StateDir), fs, locks,
            agentProgram is null ? null : new AgentLauncher(agentProgram, agentArguments ?? []));
    }

    /// <summary>The state dir this lab keeps its runs in.</summary>
    public string StateDir => _store.Paths.Root;

    /// <summary>The mode the state dir had if opening it had to make it 0700 (other users could read it), else null.</summary>
    public UnixFileMode? StateDirTightenedFrom => _store.TightenedFrom;

    /// <summary>The machines as a fleet: in service or not, queues, health (machines.json beside the store).</summary>
    internal Fleet Fleet => field ??= new Fleet(_config, _store, new MachineLedger(_fs, _locks, _store.Paths), _fs, Clock);

    public IReadOnlyList<MachineState> Machines() => Fleet.States();

    /// <summary>
    /// The machines as <see cref="Machines"/> gives them, with what Slurm says of a Slurm machine's node and who holds it (one
    /// sinfo and one squeue for all), asked again only when what was seen is older than <paramref name="slurmMaxAge"/> (the
    /// app refreshes every second: Slurm's admins object to tools that poll it that often).
    /// </summary>
    public async Task<IReadOnlyList<MachineState>> MachinesAsync(TimeSpan slurmMaxAge = default, CancellationToken cancellationToken = default)
    {
        if (_slurm is not { } seen || Clock.GetUtcNow() - seen.At >= slurmMaxAge)
        {
            seen = (Clock.GetUtcNow(), await Transports.Slurm.SlurmNodes.DescribeAsync(_config.Machines, cancellationToken));
            _slurm = seen;
        }
        return [.. Fleet.States().Select(m => seen.Nodes.TryGetValue(m.Name, out string? nodes) ? m with { Slurm = nodes } : m)];
    }

    /// <summary>Who holds each configured machine right now, seen on the machine itself, whichever state dir dispatched the run.</summary>
    public async Task<IReadOnlyList<MachineHolder>> HoldersAsync(CancellationToken cancellationToken = default) =>
        await Task.WhenAll(_config.Machines.Select(m => Execution.LockLook.LookAsync(m, _store.Paths.Root, cancellationToken)));

    public IReadOnlyList<Run> Runs(RunFilter filter) => [.. _store.List(filter).Select(r => r.Run)];

    /// <summary>The run with this id or unique id prefix.</summary>
    public Run Show(string idOrPrefix) => _store.Find(idOrPrefix).Run;

    /// <summary>
    /// The configuration a run follows: what the command that dispatched it (or submitted its batch) was configured with;
    /// null for a run recorded before runs carried it (the agent's configuration applied).
    /// </summary>
    public RunSettings? SettingsOf(string idOrPrefix) => _store.Find(idOrPrefix).Spec.Settings;

    public Machine RequireMachine(string name) => _config.FindMachine(name) ?? throw new DispatchException(
        ErrorCodes.MachineUnknown,
        $"no machine named '{name}'; configured machines: {string.Join(", ", _config.Machines.Select(m => m.Name))}");

    /// <summary>The machine, if this build can run tests on it; else a transport_unsupported error naming those it can.</summary>
    private Machine RequireRunnableMachine(string name)
    {
        Machine machine = RequireMachine(name);
        return machine.CanRunTests ? machine : throw new DispatchException(ErrorCodes.TransportUnsupported,
            $"{machine.WhyNotRunnable}; nothing was dispatched. Machines it can run on: " +
            string.Join(", ", _config.Machines.Where(m => m.CanRunTests).Select(m => m.Name)));
    }

    /// <summary>
    /// Prepares a run of <paramref name="testDir"/> on <paramref name="machine"/> (docs/DESIGN.md §4.2) and makes
    /// sure the agent will execute it. Busy is an outcome, not an exception: the caller decides; with
    /// <paramref name="queue"/>, a busy machine queues the run instead. A machine out of service (drained, unhealthy,
    /// dirty) refuses it with the reason.
    /// </summary>
    public async Task<PrepareOutcome> DispatchAsync(string testDir, string machine, IReadOnlyList<string>? command = null,
        TimeSpan? timeout = null, bool queue = false, CancellationToken cancellationToken = default)
    {
        Machine target = RequireRunnableMachine(machine);
        Fleet.RefuseIfOutOfService(machine);
        string directory = TestDirPath(testDir);
        string hash = TestDirHasher.Compute(_fs, testDir); // its error shows the path as typed and as resolved
        if (timeout is { } t && (t <= TimeSpan.Zero || t > Duration.MaxTimeLimit))
        {
            throw new DispatchException(ErrorCodes.BadInput, $"timeout {Duration.Format(t)} must be more than zero and at most 365d");
        }
        TestManifest? manifest = TestManifest.Read(_fs, directory);
        RunSpec spec = new(
            command is { Count: > 0 } ? command : manifest?.Command ?? _config.Defaults.Command,
            timeout ?? manifest?.Timeout ?? _config.Defaults.Timeout) { Settings = _config.RunSettings };
        PrepareOutcome outcome = _store.Prepare(new PrepareRequest(machine, directory, hash, spec, Target: target, Queue: queue));
        if (outcome.Kind != PrepareKind.Busy)
        {
            await EnsureAgentOrUndoAsync($"run {outcome.Run.Id}", outcome.Kind == PrepareKind.Created ? why => EndUnstarted(outcome.Run.Id, why) : null, null, cancellationToken);
        }
        return outcome;
    }

    /// <summary>A test dir as runs record it: its full path, without a trailing separator.</summary>
    public string TestDirPath(string testDir) => Path.TrimEndingDirectorySeparator(_fs.Path.GetFullPath(testDir));

    /// <summary>Dispatches a run's test dir again to its machine, with the same command and time limit.</summary>
    public async Task<PrepareOutcome> RedispatchAsync(string idOrPrefix, CancellationToken cancellationToken = default)
    {
        RunRecord record = _store.Find(idOrPrefix);
        return await DispatchAsync(record.Run.TestDir, record.Run.Machine, record.Spec.Command, record.Spec.Timeout, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Cancels a run: a pending one ends at once without starting; a running one is asked to stop (the
    /// agent gives its process group SIGTERM, then SIGKILL). Returns the run as it is after the request.
    /// </summary>
    public async Task<Run> CancelAsync(string idOrPrefix, CancellationToken cancellationToken = default)
    {
        string id = _store.Find(idOrPrefix).Id;
        RunRecord after = _store.Update(id, r => r.Run.Status switch
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

    /// <summary>
    /// Submits a plan file (docs/DESIGN.md §8): checks it whole (nothing is stored if anything is wrong), records the batch,
    /// and makes sure the agent is up to hand its items to free matching machines.
    /// </summary>
    public async Task<Batch> SubmitBatchAsync(string planPath, CancellationToken cancellationToken = default)
    {
        (string name, IReadOnlyList<BatchEntry> entries, bool inPlanOrder) = PlanFile.Read(_fs, planPath, _config);
        BatchRecord batch = _store.AddBatch(name, _fs.Path.GetFullPath(planPath), Ordered(entries, inPlanOrder), inPlanOrder: inPlanOrder);
        await EnsureAgentOrUndoAsync($"batch {batch.Id}", _ => CancelUnstarted(batch.Id), batch.Entries, cancellationToken);
        return _store.FindBatch(batch.Id).Batch;
    }

    /// <summary>Batches, newest first, with their progress.</summary>
    public IReadOnlyList<Batch> Batches() => _store.Batches();

    /// <summary>A batch's entries with what the recent runs say they take (see <see cref="BatchOrder"/>), unless in plan order.</summary>
    private IReadOnlyList<BatchEntry> Ordered(IReadOnlyList<BatchEntry> entries, bool inPlanOrder) =>
        inPlanOrder ? entries : BatchOrder.Expect(entries, _store.Stream().Select(r => r.Run));

    /// <summary>Cancels a batch: its waiting items are dropped and its runs cancelled. Returns the batch after the request.</summary>
    public async Task<Batch> CancelBatchAsync(string idOrPrefix, CancellationToken cancellationToken = default)
    {
        (BatchRecord batch, IReadOnlyList<RunRecord> active) = _store.CancelBatch(_store.FindBatch(idOrPrefix).Record.Id);
        foreach (RunRecord run in active)
        {
            await CancelAsync(run.Id, cancellationToken);
        }
        return _store.FindBatch(batch.Id, withItems: true).Batch;
    }

    /// <summary>
    /// A new batch of the entries of another (with <paramref name="failedOnly"/>, only those that did not pass), with the
    /// same targets, commands and limits; test dirs are hashed again, as they may have changed.
    /// </summary>
    public async Task<Batch> RerunBatchAsync(string idOrPrefix, bool failedOnly, CancellationToken cancellationToken = default)
    {
        (BatchRecord old, Batch progress) = _store.FindBatch(idOrPrefix, withItems: true);
        HashSet<string> again = [.. progress.Items!
            .Where(i => !failedOnly || BatchProgress.EndedWithoutPassing(i.Status))
            .Select(i => i.Name)];
        if (again.Count == 0)
        {
            throw new DispatchException(ErrorCodes.BadInput, failedOnly
                ? $"batch {old.Id} has no entries that ended without passing; nothing to rerun"
                : $"batch {old.Id} has no entries; nothing to rerun");
        }
        string[] unrunnable = [.. old.Entries
            .Where(e => again.Contains(e.Name) && !_config.Machines.Any(m => m.CanRunTests && e.Targets(m.Name, m.Tags)))
            .Select(e => $"{e.Name} ({e.Target})")];
        if (unrunnable.Length > 0)
        {
            throw new DispatchException(ErrorCodes.PlanInvalid, $"batch {old.Id} cannot be rerun: {string.Join(", ", unrunnable)} " +
                "can run on no machine this build can use (removed from the configuration, or ssh); nothing was submitted");
        }
        List<string> problems = [];
        List<BatchEntry> entries = [];
        foreach (BatchEntry entry in old.Entries.Where(e => again.Contains(e.Name)))
        {
            try
            {
                entries.Add(entry with { TestDirHash = TestDirHasher.Compute(_fs, entry.TestDir), Expected = null });
            }
            catch (DispatchException e)
            {
                problems.Add($"{entry.Name}: {e.Message}");
            }
        }
        if (problems.Count > 0)
        {
            throw new DispatchException(ErrorCodes.TestDirNotFound,
                $"cannot rerun batch {old.Id}; nothing was submitted:{string.Concat(problems.Select(p => $"{Environment.NewLine}  - {p}"))}");
        }
        BatchRecord batch = _store.AddBatch(old.Name, old.Plan, Ordered(entries, old.InPlanOrder), rerunOf: old.Id, inPlanOrder: old.InPlanOrder);
        await EnsureAgentOrUndoAsync($"batch {batch.Id}", _ => CancelUnstarted(batch.Id), batch.Entries, cancellationToken);
        return _store.FindBatch(batch.Id).Batch;
    }

    /// <summary>Whether the agent has work (see <see cref="Fleet.HasWork"/>).</summary>
    internal bool HasWork() => Fleet.HasWork();

    /// <summary>
    /// Takes a machine out of service (<c>machine drain</c>): its current run finishes, it takes no new work, batch items
    /// go to other machines. With <paramref name="cancelQueue"/>, its queued runs end interrupted (a queued run that
    /// started meanwhile is cancelled); otherwise they wait for the resume.
    /// </summary>
    public async Task<MachineState> DrainAsync(string machine, string reason, bool cancelQueue, CancellationToken cancellationToken = default)
    {
        RequireMachine(machine);
        IReadOnlyList<RunRecord> queued = Fleet.Drain(machine, Environment.UserName, reason);
        if (cancelQueue)
        {
            string why = $"cancelled: machine {machine} was drained with --cancel-queue" + (reason.Length > 0 ? $" ({reason})" : "");
            bool stopping = false;
            foreach (RunRecord run in queued)
            {
                stopping |= _store.Update(run.Id, r => r.Run.Status switch
                {
                    RunStatus.Pending => r with
                    {
                        CancelRequestedAt = Clock.GetUtcNow(),
                        Run = r.Run with { Status = RunStatus.Interrupted, EndedAt = Clock.GetUtcNow(), ErrorCode = ErrorCodes.Interrupted, ErrorMsg = why },
                    },
                    RunStatus.Running when r.CancelRequestedAt is null => r with { CancelRequestedAt = Clock.GetUtcNow() },
                    _ => r,
                }).Run.Status == RunStatus.Running;
            }
            if (stopping)
            {
                await EnsureAgentAsync(cancellationToken);
            }
        }
        return Machines().First(m => m.Name == machine);
    }

    /// <summary>
    /// Puts a machine back in service (<c>machine resume</c>): no longer drained, dirty or held by health. With a
    /// <c>HealthCheck</c> configured, it runs that first and takes other work once it passes.
    /// </summary>
    public async Task<MachineState> ResumeAsync(string machine, CancellationToken cancellationToken = default)
    {
        Fleet.Resume(RequireMachine(machine));
        await EnsureAgentAsync(cancellationToken);
        return Machines().First(m => m.Name == machine);
    }

    private long _nextAgentCheck;

    /// <summary><see cref="EnsureAgentAsync"/> at most every couple of seconds, however often it is called: for screens that refresh often.</summary>
    public async Task KeepAgentAsync(CancellationToken cancellationToken = default)
    {
        long now = Environment.TickCount64;
        long next = Interlocked.Read(ref _nextAgentCheck);
        if (now >= next && Interlocked.CompareExchange(ref _nextAgentCheck, now + (long)AgentCheckEvery.TotalMilliseconds, next) == next)
        {
            await EnsureAgentAsync(cancellationToken);
        }
    }

    /// <summary>
    /// <see cref="EnsureAgentAsync"/> for work just recorded. If no agent can be started (setsid missing, the store failing
    /// under the sweep), the work is not left half made: <paramref name="undo"/> ends it, so nothing waits for an agent that
    /// cannot come, and the error says what was recorded and what became of it. Without an undo (a run another client
    /// made), it says the work waits. <paramref name="entries"/>: a batch's, which the agent must know machines for.
    /// </summary>
    private async Task EnsureAgentOrUndoAsync(string what, Func<string, string>? undo, IReadOnlyList<BatchEntry>? entries, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureAgentOrHandOverAsync(entries, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            DispatchException cause = e is DispatchException or IOException or UnauthorizedAccessException ? DispatchException.From(e)
                : new DispatchException(ErrorCodes.SpawnFailed, $"cannot start the agent: {e.Message} ('testdispatch doctor' checks what it needs)", inner: e);
            string outcome;
            try
            {
                outcome = undo?.Invoke(cause.Message) ?? "it waits until an agent starts";
            }
            catch (Exception u) when (u is not OperationCanceledException)
            {
                outcome = $"it could not be ended either ({DispatchException.From(u).Message}), so it waits until an agent starts";
            }
            throw new DispatchException(cause.ErrorCode, $"{what} was recorded, but no agent could be started to run it: {cause.Message} So {outcome}.", inner: e);
        }
    }

    private string EndUnstarted(string id, string why)
    {
        Run after = _store.Update(id, r => r.Run.Status != RunStatus.Pending ? r : r with
        {
            Run = r.Run with { Status = RunStatus.Failed, EndedAt = Clock.GetUtcNow(), ErrorCode = ErrorCodes.SpawnFailed, ErrorMsg = $"no agent could be started to run it: {why}" },
        }).Run;
        return after.Status == RunStatus.Failed ? "it was ended as failed (spawn_failed), and nothing waits for it" : $"it is {after.Status.ToWord()}: an agent took it meanwhile";
    }

    private string CancelUnstarted(string batchId)
    {
        _store.CancelBatch(batchId);
        return "it was cancelled, and nothing of it waits";
    }

    /// <summary>
    /// Makes sure an agent will execute pending work and follow running runs: if agent.lock is free, no agent is alive,
    /// and if there is work one is started (it takes over runs an agent before it was following). Safe to call from any
    /// client at any time, and cheap when an agent is up: one try of a lock.
    /// </summary>
    public Task EnsureAgentAsync(CancellationToken cancellationToken = default) => EnsureAgentOrHandOverAsync(null, cancellationToken);

    /// <param name="entries">
    /// A batch this command just submitted. A running agent that knows none of the machines one of its entries may run on
    /// (it was started by a command with another configuration) is replaced by one with this command's configuration; its
    /// runs go on, each by the configuration it was dispatched under and on the machine it was given. Runs need no such
    /// hand-over: each carries its machine and settings, and any agent serves it.
    /// </param>
    private async Task EnsureAgentOrHandOverAsync(IReadOnlyList<BatchEntry>? entries, CancellationToken cancellationToken)
    {
        using (IDisposable? probe = _locks.TryAcquire(_store.Paths.AgentLock))
        {
            if (probe is null)
            {
                if (entries is not null && _launcher is not null && _config.Fingerprint is { } mine &&
                    AgentConfigFile.Read(_store.Paths.Root) is { } serving && serving.Fingerprint != mine &&
                    entries.Any(e => !_config.Machines.Any(m => m.CanRunTests && e.Targets(m.Name, m.Tags) && serving.Machines.Contains(m.Name))))
                {
                    await _launcher.HandOverAsync(_store.Paths.Root, cancellationToken);
                }
                return;
            }
        }
        // After letting go of agent.lock: see AgentLock for why this check must come after.
        if (_launcher is not null && HasWork())
        {
            await _launcher.StartAsync(_store.Paths.Root, cancellationToken: cancellationToken);
        }
    }
}
