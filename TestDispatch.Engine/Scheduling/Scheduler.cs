using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Scheduling;

/// <summary>
/// The dispatch rules, applied to the store in its critical sections (the store persists and answers; these decide):
/// what a dispatch gets (docs/DESIGN.md, invariant 2), what a machine takes next, and whether the agent has work.
/// </summary>
public static class Scheduler
{
    /// <summary>
    /// Invariant 2 in one critical section: reuse a non-terminal twin (same machine and hash, running or queued), refuse with
    /// the occupying run if the machine is busy with another hash (or, if the request asks to queue, join the machine's
    /// queue), or create a pending run. A run being cancelled is never reused: its verdict will be interrupted, which is not
    /// what a new dispatch asked for.
    /// </summary>
    public static PrepareOutcome Prepare(this RunStore store, PrepareRequest request) => store.Prepare(request, active =>
    {
        if (active.FirstOrDefault(r => r.Run.TestDirHash == request.TestDirHash && r.CancelRequestedAt is null) is { } twin)
        {
            return new PrepareOutcome(PrepareKind.Reused, twin.Run);
        }
        if (active.Count > 0 && !request.Queue)
        {
            RunRecord occupying = active.FirstOrDefault(r => r.Run.Status == RunStatus.Running) ?? active[0];
            return new PrepareOutcome(PrepareKind.Busy, occupying.Run, BeingCancelled: occupying.CancelRequestedAt is not null);
        }
        return null;
    });

    /// <summary>
    /// A machine loop's next work, in one critical section: the machine's active run (running after an agent restart: to
    /// follow again; or pending); else, if the machine is free, the first waiting item (longest expected first, see <see cref="BatchOrder"/>) of the oldest open batch
    /// that targets it, made a run on it already running, with <paramref name="target"/> as where it runs. Null when nothing
    /// waits for the machine. With <paramref name="tags"/> null the machine takes no batch items, only the runs dispatched to
    /// it. <paramref name="placement"/> says which queued runs may start and which items the machine takes (by default, all):
    /// a queued run that may not start holds the machine, which then takes no batch item either.
    /// </summary>
    public static RunRecord? TakeNext(this RunStore store, string machine, IReadOnlyCollection<string>? tags, Machine? target = null, Placement? placement = null) =>
        store.Take(work =>
        {
            placement ??= Placement.Open;
            List<RunRecord> active = [.. work.ActiveOn(machine)];
            if ((active.FirstOrDefault(r => r.Run.Status == RunStatus.Running) ?? active.FirstOrDefault(placement.MayStart)) is { } next)
            {
                return new NextWork(Existing: next);
            }
            if (tags is null || active.Count > 0)
            {
                return null;
            }
            foreach (OpenBatch batch in work.OpenBatches)
            {
                if (batch.Waiting.FirstOrDefault(w => w.Entry.Targets(machine, tags) && placement.Takes(machine, w.Entry, w.Last)).Entry is { } entry)
                {
                    return new NextWork(Start: new PrepareRequest(machine, entry.TestDir, entry.TestDirHash, entry.Spec, batch.Record.Id, entry.Name, target));
                }
            }
            return null;
        });

    /// <summary>Of <paramref name="machines"/>, those free (no active run) that a waiting batch item may run on: where the agent starts loops.</summary>
    public static IReadOnlyList<Machine> FreeWithWaitingItems(this RunStore store, IReadOnlyList<Machine> machines, Placement? placement = null) =>
        store.Read(work =>
        {
            placement ??= Placement.Open;
            List<OpenBatch> open = [.. work.OpenBatches];
            return (IReadOnlyList<Machine>)[.. machines.Where(m => !work.ActiveOn(m.Name).Any() &&
                open.Any(b => b.Waiting.Any(w => w.Entry.Targets(m.Name, m.Tags) && placement.Takes(m.Name, w.Entry, w.Last))))];
        });

    /// <summary>
    /// Whether the agent has anything to do: a run to start or to follow (a running run outlives the agent that followed it),
    /// or a batch item waiting that <paramref name="runnable"/> says a machine can take. With <paramref name="startable"/>,
    /// a pending run counts only if it says the run may start (a queue held on a drained machine is no work).
    /// </summary>
    public static bool HasWork(this RunStore store, Func<BatchEntry, bool> runnable, Func<RunRecord, bool>? startable = null) =>
        store.Read(work =>
            work.Active.Any(r => r.Run.Status == RunStatus.Running || startable is null || startable(r)) ||
            work.OpenBatches.Any(b => b.Waiting.Any(w => runnable(w.Entry))));

    /// <summary>
    /// Whether an open batch can get no further, in one reading: nothing of it goes, and none of its waiting entries is
    /// <paramref name="runnable"/>. Costs a look at the first waiting entries, not a pass over the batch.
    /// </summary>
    public static bool IsStranded(this RunStore store, string batchId, Func<BatchEntry, bool> runnable) =>
        store.Read(work => work.OpenBatch(batchId) is { HasActive: false } batch && batch.Waiting.Any() && !batch.Waiting.Any(w => runnable(w.Entry)));
}
