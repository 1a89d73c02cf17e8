using System.Text.Json.Serialization;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Engine.Storage;

/// <summary>Every run and batch as of journal generation <see cref="Generation"/>: what snapshot.json holds.</summary>
/// <remarks>
/// Since history moved out (see <see cref="History"/>), it holds only the hot runs; <see cref="SeqFloor"/> and
/// <see cref="BatchSeqFloor"/> are the highest seqs ever given, so new records stay newer than anything in history.
/// </remarks>
/// <remarks>
/// <see cref="Tried"/> is what the hot batches' runs that are not in <see cref="Runs"/> made of their entries (an open
/// batch's ended runs go to history like any other): see <see cref="BatchLedger"/>. <see cref="HistoryGeneration"/> is
/// the generation of history/index.json when the snapshot was written (0: there was none), so a deleted index is found
/// out instead of silently hiding history.
/// </remarks>
internal sealed record Snapshot(long Generation, IReadOnlyList<RunRecord> Runs, IReadOnlyList<BatchRecord>? Batches = null,
    long SeqFloor = 0, long BatchSeqFloor = 0, IReadOnlyList<BatchTries>? Tried = null, long HistoryGeneration = 0);

/// <summary>One journal line: the whole new state of one run or one batch (last line for an id wins).</summary>
internal sealed record JournalEntry(RunRecord? Run, BatchRecord? Batch = null);

/// <summary>
/// Writes the store's private files (read back by <see cref="StoreJsonReader"/>); not the public contract, which is
/// <see cref="ContractJson"/>. Nulls are left out: they are most of a finished run's optional fields, and a reader
/// gives absent fields their defaults.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Snapshot))] // the older one-object form; SnapshotFile.WriteTo writes the current one
[JsonSerializable(typeof(IReadOnlyList<BatchTries>))]
[JsonSerializable(typeof(RunRecord))]
[JsonSerializable(typeof(RunProcess))]
[JsonSerializable(typeof(List<int>))]
[JsonSerializable(typeof(Configuration.Machine))]
[JsonSerializable(typeof(JournalEntry))]
[JsonSerializable(typeof(BatchRecord))]
[JsonSerializable(typeof(List<BatchRecord>))]
[JsonSerializable(typeof(TestDispatch.Engine.Machines.FleetRecord))]
[JsonSerializable(typeof(HistoryIndex))]
[JsonSerializable(typeof(SegmentHeader))]
internal sealed partial class StoreJson : JsonSerializerContext;
