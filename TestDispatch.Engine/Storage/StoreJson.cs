using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Storage;

/// <summary>The snapshot file: every run as of journal generation <see cref="Generation"/> (written first, so it can be read cheaply).</summary>
internal sealed record Snapshot(long Generation, IReadOnlyList<RunRecord> Runs);

/// <summary>One journal line: the whole new state of one run (last line for an id wins).</summary>
internal sealed record JournalEntry(RunRecord Run);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(Snapshot))]
[JsonSerializable(typeof(JournalEntry))]
internal sealed partial class StoreJson : JsonSerializerContext;
