using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Logs;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;

namespace TestDispatch.Engine;

/// <summary>
/// The front door's waiting side (<c>run --wait</c>, <c>--follow</c>, <c>logs -f</c>, <c>batch submit --wait</c>). Nothing waits
/// for ever without saying what it waits for and what would end it: work that only machines out of service may run either
/// stops the wait with the hold's code (the machine is dirty, or held by health with no health check: only a person ends
/// that, and nobody asked for it), or goes on waiting after saying once, through <c>waitingOn</c>, which machine holds it,
/// why, and the command that lifts it (a drain, which its resume ends; a health check still to come). The work itself is
/// never touched.
/// </summary>
public sealed partial class Lab
{
    /// <summary>
    /// While the disk holding the state dir is full, nothing can be recorded (a run's start, its verdict): a waiter says so
    /// once, and what ends it. Returns whether it has been said.
    /// </summary>
    private bool TellFullDisk(Action<string>? waitingOn, bool told)
    {
        if (told || waitingOn is null || !DiskSpace.IsFull(_store.Paths.Root))
        {
            return told;
        }
        waitingOn($"{ErrorCodes.DiskFull}: the disk holding the state dir {_store.Paths.Root} is full: nothing can be recorded (a run's start, " +
            "its verdict) until there is room; the agent goes on by itself once space is freed there ('testdispatch prune' removes old runs)");
        return true;
    }

    /// <summary>The most held entries an error or a note names; the rest are counted.</summary>
    private const int HeldNamed = 10;

    /// <summary>
    /// Waits until the run is terminal (a completion handle over the store). Never touches the run itself. A run queued on a
    /// machine out of service ends the wait with the hold's code when nothing but a person would lift it, else is said once
    /// to <paramref name="waitingOn"/>.
    /// </summary>
    public async Task<Run> WaitAsync(string id, Action<string>? waitingOn = null, CancellationToken cancellationToken = default)
    {
        QueueWatch queue = new(this, id, waitingOn);
        return await WaitForAsync(() => _store.Get(id) is var record && record.Run.Status.IsTerminal() ? record.Run : queue.Look(record), cancellationToken,
            waitingOn: waitingOn);
    }

    /// <summary>
    /// Copies the run's log to <paramref name="output"/> from <paramref name="offset"/> as it grows, until the run ends; keeps an
    /// agent up meanwhile (one that died is replaced, and takes the run over), so a follower never waits on nobody; a run
    /// queued on a machine out of service is told as <see cref="WaitAsync"/> tells it.
    /// </summary>
    public async Task<Run> FollowLogAsync(string id, Stream output, long offset = 0, Action<string>? waitingOn = null,
        CancellationToken cancellationToken = default)
    {
        QueueWatch queue = new(this, id, waitingOn);
        bool toldDisk = false;
        return await new LogFollower(_fs, runId => _store.Get(runId).Run).FollowAsync(id, output, offset, async ct =>
        {
            await EnsureAgentAsync(ct);
            queue.Look(_store.Get(id));
            toldDisk = TellFullDisk(waitingOn, toldDisk);
        }, cancellationToken);
    }

    /// <summary>
    /// Waits until every item of the batch is terminal. Never touches the batch itself. When the batch can get no further
    /// (nothing of it goes, and no machine in service may take any entry still waiting), it fails if an entry waits for
    /// what only a person can end and nobody asked for: machines gone from the configuration (machine_unknown), only
    /// machines this build cannot use (transport_unsupported), only dirty machines or machines held by health with no
    /// health check; else (drained machines, health checks to come) it says once to <paramref name="waitingOn"/> what it
    /// waits for and goes on. Without <paramref name="withItems"/> the ended batch comes with its counts only: a waiter
    /// that prints a verdict never holds a 20,000-entry batch's items.
    /// </summary>
    public async Task<Batch> WaitBatchAsync(string id, bool withItems = true, Action<string>? waitingOn = null, CancellationToken cancellationToken = default)
    {
        string? told = null;
        // A batch changes with every run of it: looking at most ten times a second keeps the waiter off state.lock,
        // which the agent needs between every two tests. A look costs the same whatever the batch's size (its items are
        // made only once it is stuck or over). Whether it is stuck is decided on one reading of the store, then confirmed on
        // a second one with the machines read after it: between two items nothing runs for a moment, and the agent may take
        // the next one at any time; a resume between two looks leaves an item unmarked, which is not stuck.
        Batch last = await WaitForAsync(() =>
        {
            Batch batch = _store.FindBatch(id).Batch;
            if (batch.IsTerminal)
            {
                return withItems ? ShowBatch(batch.Id) : batch;
            }
            Placement placement = Fleet.Placement();
            if (!_store.IsStranded(batch.Id, e => _config.Machines.Any(m => m.CanRunTests && e.Targets(m.Name, m.Tags) && placement.InService(m.Name))))
            {
                return null;
            }
            (Batch full, List<HeldItem> held) = Held(_store.FindBatch(id, withItems: true).Batch);
            if (full.IsTerminal)
            {
                return full;
            }
            if (full.Counts is not { Pending: 0, Running: 0 } || held.Count != full.Counts.Waiting)
            {
                return null;
            }
            if (held.Any(h => h.Stuck))
            {
                return full;
            }
            string note = $"batch {full.Id} waits: {Describe(held)}; {Lifts(held)}, or 'testdispatch batch cancel {full.Id}' ends the batch";
            if (note != told)
            {
                told = note;
                waitingOn?.Invoke(note);
            }
            return null;
        }, cancellationToken, lookEvery: TimeSpan.FromMilliseconds(100), waitingOn: waitingOn);
        if (!last.IsTerminal)
        {
            List<HeldItem> held = Held(last).Items;
            HeldItem[] stuck = [.. held.Where(h => h.Stuck)];
            string code = stuck.Any(h => h.Item.ErrorCode == ErrorCodes.MachineUnknown) ? ErrorCodes.MachineUnknown
                : stuck.Any(h => h.Item.ErrorCode == ErrorCodes.TransportUnsupported) ? ErrorCodes.TransportUnsupported
                : stuck[0].Item.ErrorCode;
            string fix = stuck.Any(h => h.Holds.Count == 0)
                ? "can run on no machine this build can use (removed from the configuration, or ssh). Add such a machine"
                : $"waits for machines out of service; {Lifts(held)}";
            throw new DispatchException(code,
                $"batch {last.Id} can get no further: {Describe(held)} {fix}, or end the batch with 'testdispatch batch cancel {last.Id}'. " +
                "The batch stays open.");
        }
        return last;
    }

    /// <summary>The batch with this id or unique id prefix, with its items; waiting items no machine in service may take say why.</summary>
    public Batch ShowBatch(string idOrPrefix)
    {
        (BatchRecord record, Batch batch) = _store.FindBatch(idOrPrefix, withItems: true);
        batch = batch.IsTerminal ? batch : batch with
        {
            ExpectedEnd = BatchOrder.ExpectedEnd(record, batch.Items!,
                entry => _config.Machines.Where(m => entry.Targets(m.Name, m.Tags)).Select(m => m.Name),
                id => _store.Find(id).Run.StartedAt, Clock.GetUtcNow()),
        };
        return WithTests(Held(batch).Batch);
    }

    /// <summary>A waiting item that no machine in service may take, marked with why; stuck when nothing but a person ends that.</summary>
    private sealed record HeldItem(BatchItem Item, IReadOnlyList<Hold> Holds, bool Stuck);

    /// <summary>
    /// The batch with its waiting items that no machine in service may take marked in error_code (and, when machines
    /// out of service hold them, in why): machine_unknown when no configured machine may run it, transport_unsupported when
    /// only machines this build cannot use may, else the first hold's code; and those items.
    /// </summary>
    private (Batch Batch, List<HeldItem> Items) Held(Batch batch)
    {
        List<HeldItem> held = [];
        if (batch.Items is null || batch.Counts.Waiting == 0)
        {
            return (batch, held);
        }
        IReadOnlyDictionary<string, Hold>? holds = null;
        List<BatchItem> items = new(batch.Items.Count);
        foreach (BatchItem item in batch.Items)
        {
            Machine[] targets = item.Status != BatchProgress.WaitingWord ? [] : [.. _config.Machines.Where(m => Takes(m, item))];
            HeldItem? mark = item.Status != BatchProgress.WaitingWord ? null
                : targets.Length == 0 ? new HeldItem(item with { ErrorCode = ErrorCodes.MachineUnknown }, [], Stuck: true)
                : !targets.Any(m => m.CanRunTests) ? new HeldItem(item with { ErrorCode = ErrorCodes.TransportUnsupported }, [], Stuck: true)
                : targets.Where(m => m.CanRunTests).Select(m => (holds ??= Fleet.Holds()).GetValueOrDefault(m.Name)).ToList() is var on && on.All(h => h is not null)
                    ? new HeldItem(item with { ErrorCode = on[0]!.ErrorCode, Why = string.Join("; ", on.Select(h => h!.Why)) }, on!, on.All(h => h!.Stuck))
                : null;
            if (mark is not null)
            {
                held.Add(mark);
            }
            items.Add(mark?.Item ?? item);
        }
        return (batch with { Items = items }, held);
    }

    private static bool Takes(Machine machine, BatchItem item) =>
        item.Machine is { } name ? machine.Name == name : (item.Tags ?? []).All(machine.Tags.Contains);

    private static string Target(BatchItem item) => item.Machine ?? $"tags {string.Join(",", item.Tags ?? [])}";

    /// <summary>"e2 (rig-3: machine_unhealthy: rig-3 held after …), e3 (…) and 4 more".</summary>
    private static string Describe(List<HeldItem> held) =>
        string.Join(", ", held.Take(HeldNamed).Select(h => $"{h.Item.Name} ({Target(h.Item)}: {h.Item.ErrorCode}{(h.Item.Why.Length > 0 ? $": {h.Item.Why}" : "")})")) +
        (held.Count > HeldNamed ? $" and {held.Count - HeldNamed} more" : "");

    /// <summary>"'testdispatch machine resume rig-3' puts it back" for each machine holding an item.</summary>
    private static string Lifts(List<HeldItem> held) =>
        string.Join(", ", held.SelectMany(h => h.Holds).Select(h => h.Lift).Distinct()) is { Length: > 0 } lifts ? $"{lifts} puts it back" : "nothing puts it back";

    /// <summary>
    /// Watches a run that waits in a machine's queue: fails the wait when the machine is out of service for good (see
    /// <see cref="Hold.Stuck"/>), and tells each other hold once.
    /// </summary>
    private sealed class QueueWatch(Lab lab, string id, Action<string>? waitingOn)
    {
        private string? _told;

        /// <summary>Null for a caller that goes on waiting; throws when the run would wait for ever.</summary>
        public Run? Look(RunRecord record)
        {
            if (record.Run is { Status: RunStatus.Pending, ErrorCode: ErrorCodes.MachineBusyElsewhere } waiting)
            {
                // Said once per holder: the message changes only when another engineer's run holds the machine.
                Tell($"{ErrorCodes.MachineBusyElsewhere}: run {id} waits: {waiting.ErrorMsg}; 'testdispatch cancel {id}' drops it");
                return null;
            }
            if (record.Run.Status != RunStatus.Pending || lab.Fleet.HoldOn(record) is not { } hold)
            {
                return null;
            }
            if (hold.Stuck)
            {
                if (lab._store.Get(id).Run.Status != RunStatus.Pending)
                {
                    return null; // it started meanwhile: the machine was put back between the two looks
                }
                throw new DispatchException(hold.ErrorCode,
                    $"run {id} waits in the queue of machine {hold.Machine}, which takes no new work: {hold.Why}. {hold.Lift} puts it back, " +
                    $"or 'testdispatch cancel {id}' drops the run. The run stays queued.");
            }
            Tell($"run {id} waits for machine {hold.Machine}: {hold.Why}; {hold.Lift} puts it back, 'testdispatch cancel {id}' drops the run");
            return null;
        }

        private void Tell(string note)
        {
            if (note != _told)
            {
                _told = note;
                waitingOn?.Invoke(note);
            }
        }
    }

    /// <summary>
    /// Follows the store until <paramref name="done"/> gives a value. Checks on the agent every few seconds: if it
    /// died, a new one is started, which takes its runs over, instead of waiting forever.
    /// </summary>
    private async Task<T> WaitForAsync<T>(Func<T?> done, CancellationToken cancellationToken, TimeSpan lookEvery = default, Action<string>? waitingOn = null)
        where T : class
    {
        using DirectoryWatcher watcher = new(_fs, _store.Paths.Root);
        DateTime nextAgentCheck = DateTime.UtcNow + AgentCheckEvery;
        bool toldDisk = false;
        while (true)
        {
            DateTime looked = DateTime.UtcNow;
            if (done() is { } value)
            {
                return value;
            }
            if (looked + lookEvery - DateTime.UtcNow is { Ticks: > 0 } rest)
            {
                await Task.Delay(rest, cancellationToken);
            }
            if (DateTime.UtcNow >= nextAgentCheck)
            {
                await EnsureAgentAsync(cancellationToken);
                nextAgentCheck = DateTime.UtcNow + AgentCheckEvery;
                toldDisk = TellFullDisk(waitingOn, toldDisk);
            }
            await watcher.WaitAsync(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }
}
