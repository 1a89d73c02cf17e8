using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Batches;

/// <summary>The runs made from one plan (DESIGN §8). Persisted beside runs in the same store.</summary>
public sealed record Batch
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required BatchStatus Status { get; init; }

    [JsonConverter(typeof(UtcTimestampConverter))]
    public required DateTimeOffset? CreatedAt { get; init; }

    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset? EndedAt { get; init; }
}

/// <summary>A batch is running until every item is terminal, then completed (all passed) or failed.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BatchStatus>))]
public enum BatchStatus
{
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("completed")] Completed,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("cancelled")] Cancelled,
}
