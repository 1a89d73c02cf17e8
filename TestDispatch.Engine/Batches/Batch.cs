using System.Text.Json.Serialization;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Batches;

/// <summary>
/// The runs made from one plan (docs/DESIGN.md §8), as the public JSON contract shows it. Derived from the stored
/// <see cref="BatchRecord"/> and the batch's runs: a batch is running until every item is terminal, then completed
/// (all passed), failed, or cancelled.
/// </summary>
public sealed record Batch
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required BatchStatus Status { get; init; }

    /// <summary>The plan file it was submitted from, as an absolute path.</summary>
    public required string Plan { get; init; }

    [JsonConverter(typeof(UtcTimestampConverter))]
    public required DateTimeOffset? CreatedAt { get; init; }

    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset? EndedAt { get; init; }

    public required BatchCounts Counts { get; init; }

    /// <summary>
    /// When a running batch is expected to end, from its test dirs' recent durations (an estimate: other work on its
    /// machines is not counted); only in <c>batch show</c>, absent when history knew none of its test dirs.
    /// </summary>
    [JsonConverter(typeof(UtcTimestampConverter))]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? ExpectedEnd { get; init; }

    /// <summary>The batch this one re-ran entries of, if any.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? RerunOf { get; init; }

    /// <summary>The test cases of the items' latest runs that left results, counted; only in <c>batch show</c>, absent when none did.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TestCounts? Tests { get; init; }

    /// <summary>Cases of the items' latest runs that failed having passed in their test dir's run before; only in <c>batch show</c> with <see cref="Tests"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<NewFailure>? NewFailures { get; init; }

    /// <summary>Each plan entry and where it is; only in <c>batch show</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<BatchItem>? Items { get; init; }

    [JsonIgnore]
    public bool IsTerminal => Status != BatchStatus.Running;
}

/// <summary>A case that failed in a batch entry's run having passed in its test dir's run before (public JSON contract).</summary>
public sealed record NewFailure(string Entry, string Run, string Case);

/// <summary>How many of a batch's items are in each state.</summary>
public sealed record BatchCounts
{
    public int Total { get; init; }
    public int Waiting { get; init; }
    public int Pending { get; init; }
    public int Running { get; init; }
    public int Completed { get; init; }
    public int Failed { get; init; }
    public int Timeout { get; init; }
    public int Interrupted { get; init; }
    public int Dropped { get; init; }

    /// <summary>Items that will not change any more.</summary>
    [JsonIgnore]
    public int Done => Completed + Failed + Timeout + Interrupted + Dropped;
}

/// <summary>
/// One plan entry of a batch: its target, its state (a run status, or waiting for a free
/// matching machine, or dropped when the batch was cancelled before it ran), and its latest run.
/// </summary>
public sealed record BatchItem
{
    public required string Name { get; init; }
    public required string TestDir { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Machine { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Tags { get; init; }

    public required string Status { get; init; }
    public required int Attempts { get; init; }
    public string? RunId { get; init; }

    /// <summary>The machine the latest run went to.</summary>
    public string? RanOn { get; init; }

    public int? ExitCode { get; init; }

    /// <summary>
    /// Why the item cannot go on: its latest run's error code, or, for an item waiting that no machine in service may take,
    /// why not (machine_unknown, transport_unsupported, machine_drained, machine_dirty, machine_unhealthy).
    /// </summary>
    public string ErrorCode { get; init; } = "";

    /// <summary>For an item held by machines out of service, which and why, for people (not in the JSON: error_code is).</summary>
    [JsonIgnore]
    public string Why { get; init; } = "";
}

[JsonConverter(typeof(JsonStringEnumConverter<BatchStatus>))]
public enum BatchStatus
{
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("completed")] Completed,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("cancelled")] Cancelled,
}

public static class BatchStatusWords
{
    public static string ToWord(this BatchStatus status) => status switch
    {
        BatchStatus.Running => "running",
        BatchStatus.Completed => "completed",
        BatchStatus.Failed => "failed",
        BatchStatus.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}
