using System.IO.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Scheduling;

/// <summary>
/// The machines as a fleet: what each is doing and whether it is in service (drained, unhealthy, dirty), its queue and
/// last verdicts; draining and resuming; recording verdicts for health; starting health checks. The runs stay in the
/// <see cref="RunStore"/>, the machines' record in the <see cref="MachineLedger"/>.
/// </summary>
public sealed class Fleet(LabConfig config, RunStore store, MachineLedger ledger, IFileSystem fs, TimeProvider clock)
{
    /// <summary>How long the holder the agent's look at an idle machine found is shown: the agent looks once a minute while it runs.</summary>
    private static readonly TimeSpan HolderFresh = TimeSpan.FromMinutes(2);

    public MachineLedger Ledger => ledger;

    /// <summary>Which work each machine may take, as of now.</summary>
    public Placement Placement() => new(config.Machines, ledger.Read());

    public IReadOnlyList<MachineState> States()
    {
        FleetRecord fleet = Settled();
        ILookup<string, RunRecord> active = store.Active().ToLookup(r => r.Run.Machine);
        Placement placement = new(config.Machines, fleet);
        IReadOnlyDictionary<string, Contact> contacts = ReachabilityFile.Read(store.Paths);
        return [.. config.Machines.Select(machine => State(machine, fleet[machine.Name], [.. active[machine.Name]], placement,
            machine.Transport is TransportKind.Ssh or TransportKind.Local ? contacts.GetValueOrDefault(machine.Name) : null))];
    }

    /// <param name="contact">The agent's last contact with an ssh or local machine (reachability.json), if it had one: a holder its look
    /// found there shows the machine busy, held by them, while no run of ours is there and the look is fresh.</param>
    private MachineState State(Machine machine, MachineRecord record, List<RunRecord> active, Placement placement, Contact? contact)
    {
        bool unreachable = contact is { Reachable: false };
        RunRecord? running = active.FirstOrDefault(r => r.Run.Status == RunStatus.Running);
        RunRecord? current = running ?? active.FirstOrDefault(placement.MayStart);
        // A look begun before a run of ours last ended there is stale: that run held the machine after it.
        RunRecord? lastEnded = store.LastFinishedOn(machine.Name);
        LockHolder? heldBy = current is { Run: { Status: RunStatus.Pending, ErrorCode: ErrorCodes.MachineBusyElsewhere } } ? record.HeldBy
            : running is null && contact is { HeldBy: { } seen, HeldSeen: { } at } && clock.GetUtcNow() - at < HolderFresh && seen.StateDir != store.Paths.Root &&
                !(lastEnded?.Run.EndedAt > at) ? seen
            : null;
        string state = !machine.CanRunTests ? MachineState.Unsupported
            : record.Drained is not null ? running is not null ? MachineState.Draining : MachineState.DrainedWord
            : record.Dirty is not null ? MachineHealth.Dirty
            : record.Abandoned is not null ? MachineState.InDoubt
            : record.CheckRun is not null ? MachineHealth.Checking
            : record.UnhealthySince is not null ? MachineHealth.Unhealthy
            : active.Count > 0 || heldBy is not null ? MachineState.Busy
            : unreachable ? MachineState.UnreachableState
            : MachineState.Idle;
        return new MachineState(machine)
        {
            State = state,
            CurrentRun = current?.Id,
            HeldBy = heldBy,
            LastStatus = lastEnded?.Run.Status,
            Health = MachineHealth.Status(record, config.Health),
            InfraFailures = record.InfraFailures,
            HealthReason = record.Dirty is { } dirty
                ? $"run {dirty.Run} left processes alive after SIGKILL (pids {string.Join(" ", dirty.Pids)}); look at them, then 'testdispatch machine resume {machine.Name}'"
                : record.Abandoned is { } abandoned ? InDoubt(machine.Name, abandoned)
                : record.UnhealthySince is { } since ? $"{record.UnhealthyWhy}, since {UtcTimestampConverter.Format(since)}"
                : record.CheckRun is { } check ? $"waiting on its health check, run {check}"
                : null,
            Drained = record.Drained,
            Queue = [.. active.Where(r => r != current && r.Run.Status == RunStatus.Pending).Select(r => r.Id)],
            Recent = record.Recent,
            Dirty = record.Dirty,
            Abandoned = record.Abandoned,
            Unreachable = unreachable ? contact!.Reason : null,
            Since = contact?.Since,
            LastContact = contact?.LastContact,
        };
    }

    /// <summary>
    /// The record as it is once the agent has counted each machine's newest verdict: the agent writes the verdict first
    /// and then the machine's record, so a client that just saw a run end (run --wait) and looks at the machines gets
    /// what that verdict did to its health, not the moment before.
    /// </summary>
    private FleetRecord Settled()
    {
        FleetRecord fleet = ledger.Read();
        foreach (Machine machine in config.Machines)
        {
            // Only a run that started was the agent's to count (a queued run cancelled before it started was not).
            if (store.LastFinishedOn(machine.Name) is { Run.StartedAt: not null } last)
            {
                fleet = MachineHealth.Record(fleet, last, config.Machines, config.Health, clock.GetUtcNow());
            }
        }
        return fleet;
    }

    /// <summary>Why each configured machine out of service takes no new work, by name; machines in service are not in it.</summary>
    public IReadOnlyDictionary<string, Hold> Holds()
    {
        FleetRecord fleet = Settled();
        Dictionary<string, Hold> holds = new(StringComparer.Ordinal);
        foreach (Machine machine in config.Machines)
        {
            if (Hold.Of(machine, fleet[machine.Name], config.Health) is { } hold)
            {
                holds[machine.Name] = hold;
            }
        }
        return holds;
    }

    /// <summary>Why the pending run may not start on its machine now (out of service), or null when it may.</summary>
    public Hold? HoldOn(RunRecord pending)
    {
        FleetRecord fleet = ledger.Read();
        return new Placement(config.Machines, fleet).MayStart(pending) || config.FindMachine(pending.Run.Machine) is not { } machine ? null
            : Hold.Of(machine, fleet[machine.Name], config.Health);
    }

    /// <summary>Refuses new work for a machine out of service, with a code and message naming why (and who, for a drain).</summary>
    public void RefuseIfOutOfService(string machine)
    {
        MachineRecord record = Settled()[machine];
        if (record.Drained is { } drain)
        {
            throw new DispatchException(ErrorCodes.MachineDrained,
                $"machine {machine} was drained by {drain.By} at {UtcTimestampConverter.Format(drain.At!.Value)}" +
                (drain.Reason.Length > 0 ? $" ({drain.Reason})" : "") + $"; it takes no new work until 'testdispatch machine resume {machine}'; nothing was dispatched");
        }
        if (record.Dirty is { } dirty)
        {
            throw new DispatchException(ErrorCodes.MachineDirty,
                $"machine {machine} is dirty: run {dirty.Run} left processes alive after SIGKILL (pids {string.Join(" ", dirty.Pids)}, see 'testdispatch doctor'); " +
                $"once they are gone, 'testdispatch machine resume {machine}' puts it back; nothing was dispatched");
        }
        if (record.Abandoned is { } abandoned)
        {
            throw new DispatchException(ErrorCodes.MachineInDoubt, $"machine {machine} is {MachineState.InDoubt}: {InDoubt(machine, abandoned)}; nothing was dispatched");
        }
        if (record.UnhealthySince is not null || record.CheckRun is not null)
        {
            throw new DispatchException(ErrorCodes.MachineUnhealthy,
                $"machine {machine} is out of service: " + (record.CheckRun is { } check ? $"it waits on its health check (run {check})" : record.UnhealthyWhy) +
                $"; 'testdispatch machine resume {machine}' puts it back; nothing was dispatched");
        }
    }

    private static string InDoubt(string machine, AbandonedRun abandoned) =>
        $"run {abandoned.Run} was given up at {UtcTimestampConverter.Format(abandoned.At ?? DateTimeOffset.UnixEpoch)} while the machine did not answer " +
        $"({abandoned.Why}) and may still be running there, in {abandoned.RunDir}; the agent stops it and puts the machine back as soon as it answers, " +
        $"or 'testdispatch machine resume {machine}' once you know it is stopped";

    /// <summary>
    /// Holds the machine after its run was given up while it did not answer (the run may still run there): it takes no new
    /// work until the agent, reaching it again, has stopped that run (<see cref="Settle"/>), or someone resumes it.
    /// </summary>
    public void Abandon(string machine, string run, string runDir, string why) =>
        ledger.Change(f => f.With(machine, f[machine] with { Abandoned = new AbandonedRun(run, runDir, clock.GetUtcNow(), why) }));

    /// <summary>The run given up on the machine was seen stopped (and its directory removed): the machine is back in service.</summary>
    public void Settle(string machine, string run) =>
        ledger.Change(f => f[machine].Abandoned?.Run != run ? f : f.With(machine, f[machine] with { Abandoned = null }));

    /// <summary>Remembers who holds the machine from elsewhere while a run of ours waits for it (null: nobody, as far as we know).</summary>
    public void HeldElsewhere(string machine, LockHolder? holder) =>
        ledger.Change(f => f[machine].HeldBy == holder ? f : f.With(machine, f[machine] with { HeldBy = holder }));

    /// <summary>
    /// Whether another machine that the batch entry of <paramref name="run"/> may run on is free now: in service, not known
    /// held elsewhere, and with no run of this state dir. False for a run that is no batch item.
    /// </summary>
    public bool FreeElsewhere(RunRecord run)
    {
        Placement placement = Placement();
        return run.Run is { BatchId: { } batch, PlanEntry: { } name } && store.Read(work =>
            work.OpenBatch(batch)?.Record.Entries.FirstOrDefault(e => e.Name == name) is { } entry &&
            config.Machines.Any(m => m.Name != run.Run.Machine && entry.Targets(m.Name, m.Tags) && placement.InService(m.Name) &&
                placement.Fleet[m.Name].HeldBy is null && !work.ActiveOn(m.Name).Any()));
    }

    /// <summary>Marks the machine drained (who, when, why); returns its pending runs as they were then (its queue).</summary>
    public IReadOnlyList<RunRecord> Drain(string machine, string by, string reason)
    {
        ledger.Change(f => f.With(machine, f[machine] with { Drained = new DrainMark(by, clock.GetUtcNow(), reason) }));
        return [.. store.Active().Where(r => r.Run.Machine == machine && r.Run.Status == RunStatus.Pending)];
    }

    /// <summary>
    /// Puts the machine back in service: no longer drained, dirty or held by health. With a <c>HealthCheck</c>, it first
    /// runs that (queued as its next run), and takes other work once it passes; returns that run's id.
    /// </summary>
    public string? Resume(Machine machine)
    {
        string? check = null;
        ledger.Change(f =>
        {
            check = machine.HealthCheck is not null && machine.CanRunTests ? f[machine.Name].CheckRun is { } inFlight && IsActive(inFlight) ? inFlight : PrepareCheck(machine) : null;
            return f.With(machine.Name, f[machine.Name] with
            {
                Drained = null,
                Dirty = null,
                Abandoned = null,
                UnhealthySince = null,
                UnhealthyWhy = null,
                InfraFailures = 0,
                CheckRun = check,
            });
        });
        return check;
    }

    /// <summary>Records how a run its machine's loop took ended, for the machine's health and recent verdicts.</summary>
    public void Record(RunRecord ended) =>
        ledger.Change(f => MachineHealth.Record(f, ended, config.Machines, config.Health, clock.GetUtcNow()));

    /// <summary>
    /// Whether the agent has work: a run to follow, a pending run that may start, a batch item that a machine in service
    /// can take, a health check due, or a run given up on a machine that did not answer, to stop once it answers.
    /// </summary>
    public bool HasWork()
    {
        Placement placement = Placement();
        return store.HasWork(entry => config.Machines.Any(m => entry.Targets(m.Name, m.Tags) && placement.InService(m.Name)), placement.MayStart) ||
            ChecksDue() ||
            // A run given up on a machine that did not answer may still run there: the agent stays to stop it once it answers.
            placement.Fleet.Machines.Values.Any(m => m.Abandoned is not null);
    }

    /// <summary>Whether a machine held by health has a health check to start (unhealthy for <see cref="HealthRules.CheckAfter"/>).</summary>
    public bool ChecksDue() => Due(ledger.Read()).Any();

    /// <summary>
    /// For the agent: starts the health checks that are due, and settles a check run that ended without the agent seeing
    /// it (cancelled before it started). Returns what went wrong, for the agent's log.
    /// </summary>
    public IReadOnlyList<string> StartDueChecks()
    {
        FleetRecord fleet = ledger.Read();
        List<string> problems = [];
        foreach ((string name, MachineRecord record) in fleet.Machines)
        {
            if (record.CheckRun is { } id && !IsActive(id))
            {
                RunRecord? ended = Find(id);
                ledger.Change(f => f[name].CheckRun != id ? f
                    : ended is not null ? MachineHealth.Record(f, ended, config.Machines, config.Health, clock.GetUtcNow())
                    : f.With(name, f[name] with { CheckRun = null, UnhealthySince = clock.GetUtcNow(), UnhealthyWhy = $"its health check run {id} is gone" }));
            }
        }
        foreach (Machine machine in Due(ledger.Read()))
        {
            try
            {
                ledger.Change(f => Due(f).Contains(machine) ? f.With(machine.Name, f[machine.Name] with { CheckRun = PrepareCheck(machine) }) : f);
            }
            catch (DispatchException e)
            {
                problems.Add($"machine {machine.Name}: its health check {machine.HealthCheck} could not be started: {e.Message}");
                ledger.Change(f => f.With(machine.Name, f[machine.Name] with
                {
                    UnhealthySince = clock.GetUtcNow(),
                    UnhealthyWhy = $"its health check could not be started ({e.ErrorCode})",
                }));
            }
        }
        return problems;
    }

    private IEnumerable<Machine> Due(FleetRecord fleet) => config.Machines.Where(m =>
        m is { HealthCheck: not null, CanRunTests: true } &&
        fleet[m.Name] is { UnhealthySince: { } since, CheckRun: null, Drained: null, Dirty: null } &&
        clock.GetUtcNow() - since >= config.Health.CheckAfter);

    private RunRecord? Find(string runId)
    {
        try
        {
            return store.Get(runId);
        }
        catch (DispatchException e) when (e.ErrorCode == ErrorCodes.RunNotFound)
        {
            return null;
        }
    }

    private bool IsActive(string runId) => store.Active().Any(r => r.Id == runId);

    /// <summary>Queues the machine's health check test as a run on it; its id.</summary>
    private string PrepareCheck(Machine machine)
    {
        string dir = Path.TrimEndingDirectorySeparator(fs.Path.GetFullPath(machine.HealthCheck!));
        string hash = TestDirHasher.Compute(fs, dir);
        TestManifest? manifest = TestManifest.Read(fs, dir);
        RunSpec spec = new(manifest?.Command ?? config.Defaults.Command, manifest?.Timeout ?? config.Defaults.Timeout) { Settings = config.RunSettings };
        return store.Prepare(new PrepareRequest(machine.Name, dir, hash, spec, Target: machine, Queue: true)).Run.Id;
    }
}
