using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The hot state as the rules that decide what runs next see it (see <see cref="RunStore.Take"/>, <see cref="RunStore.Read"/>):
/// one consistent reading, under state.lock. Valid only inside the call that was given it.
/// </summary>
public interface IWorkView
{
    /// <summary>Every non-terminal run (pending and running), oldest first.</summary>
    IEnumerable<RunRecord> Active { get; }

    /// <summary>The machine's non-terminal runs, oldest first.</summary>
    IEnumerable<RunRecord> ActiveOn(string machine);

    /// <summary>The batches that may still have work, oldest first.</summary>
    IEnumerable<OpenBatch> OpenBatches { get; }

    /// <summary>One open batch, or null when it is over (or not hot).</summary>
    OpenBatch? OpenBatch(string id);
}

/// <summary>A batch that may still have work: whether any of its runs is going, and its entries waiting for a machine, in the order they are handed out, each with its latest try.</summary>
public sealed record OpenBatch(BatchRecord Record, bool HasActive, IEnumerable<(BatchEntry Entry, LatestTry? Last)> Waiting);

/// <summary>What a machine takes next: a run already made, or a batch entry to start as a new running run.</summary>
public sealed record NextWork(RunRecord? Existing = null, PrepareRequest? Start = null);

public sealed partial class RunStore
{
    private sealed class WorkView(RunStore store) : IWorkView
    {
        public IEnumerable<RunRecord> Active => store._index.ActiveAll();

        public IEnumerable<RunRecord> ActiveOn(string machine) => store._index.Active(machine);

        public IEnumerable<OpenBatch> OpenBatches => store.OpenBatches().Select(Describe);

        public OpenBatch? OpenBatch(string id) => store._index.Ledger(id) is { IsOver: false } ledger ? Describe(ledger) : null;

        private static OpenBatch Describe(BatchLedger ledger) => new(ledger.Record, ledger.HasActive, ledger.WaitingWithLast);
    }
}
