using System.Text.Json.Serialization;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>Every run and batch as of journal generation <see cref="Generation"/>: what snapshot.json holds.</summary>
/// <remarks>
/// Since history moved out (see <see cref="History"/>), it holds only the hot runs; <see cref="SeqFloor"/> and
/// <see cref="BatchSeqFloor"/> are the highest seqs ever given, so new records stay newer than anything in history.
/// </remarks>
internal sealed record Snapshot(long Generation, IReadOnlyList<RunRecord> Runs, IReadOnlyList<BatchRecord>? Batches = null,
    long SeqFloor = 0, long BatchSeqFloor = 0);

/// <summary>
/// The first line of snapshot.json (the generation first, so it can be read cheaply), holding the batches (few, next to
/// runs); <see cref="Count"/> run records follow, one per line, so the file parses in parallel and a cut at a line end
/// still shows. Snapshots written before were one object, <c>{"generation": n, "runs": [...]}</c>; they still load.
/// </summary>
internal sealed record SnapshotHeader(long Generation, int Count, IReadOnlyList<BatchRecord>? Batches = null,
    long? SeqFloor = null, long? BatchSeqFloor = null);

/// <summary>One journal line: the whole new state of one run or one batch (last line for an id wins).</summary>
internal sealed record JournalEntry(RunRecord? Run, BatchRecord? Batch = null);

/// <summary>
/// Writes the store's private files (read back by <see cref="StoreJsonReader"/>); not the public contract, which is
/// <see cref="ContractJson"/>. Nulls are left out: they are most of a finished run's optional fields, and a reader
/// gives absent fields their defaults.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Snapshot))] // the older one-object form; SnapshotFile.WriteTo writes the current one
[JsonSerializable(typeof(SnapshotHeader))]
[JsonSerializable(typeof(RunRecord))]
[JsonSerializable(typeof(RunProcess))]
[JsonSerializable(typeof(List<int>))]
[JsonSerializable(typeof(TestDispatch.Engine.Machines.Machine))]
[JsonSerializable(typeof(JournalEntry))]
[JsonSerializable(typeof(BatchRecord))]
[JsonSerializable(typeof(List<BatchRecord>))]
[JsonSerializable(typeof(TestDispatch.Engine.Machines.FleetRecord))]
[JsonSerializable(typeof(HistoryIndex))]
[JsonSerializable(typeof(SegmentHeader))]
internal sealed partial class StoreJson : JsonSerializerContext;
