using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Batches;

/// <summary>
/// What the store keeps per batch: the plan's entries as submitted (test dirs resolved and hashed, commands and
/// limits settled) and whether it was cancelled. Written once at submit and once more on cancel; the state of each
/// item is derived from the batch's runs (<see cref="BatchProgress"/>), so it can never disagree with them.
/// </summary>
public sealed record BatchRecord
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Plan { get; init; }

    /// <summary>Creation order among batches; larger is newer. The agent serves the oldest batch first.</summary>
    public required long Seq { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? CancelledAt { get; init; }
    public string? RerunOf { get; init; }

    /// <summary>The plan asked for its entries in plan order (<c>"order": "plan"</c>), not longest first.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool InPlanOrder { get; init; }

    public required IReadOnlyList<BatchEntry> Entries { get; init; }
}

/// <summary>
/// One plan entry, ready to run: a unique name, the test dir and its hash, the target (one machine, or every machine
/// having all <see cref="Tags"/>), the command and time limit, and how often to retry an infrastructure failure.
/// </summary>
public sealed record BatchEntry
{
    public required string Name { get; init; }
    public required string TestDir { get; init; }
    public required string TestDirHash { get; init; }
    public string? Machine { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public required RunSpec Spec { get; init; }
    public int Retries { get; init; }

    /// <summary>
    /// How long the entry is expected to take, from the recent runs of its test dir (the mean of the known ones for a test
    /// dir never run), set at submit: a batch's waiting entries are handed out longest first, plan order among equals.
    /// Null when nothing was known, or the plan asked for plan order.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TimeSpan? Expected { get; init; }

    /// <summary>Whether a machine with this name and these tags may run the entry.</summary>
    public bool Targets(string machine, IReadOnlyCollection<string> tags) =>
        Machine is not null ? Machine == machine : Tags.All(tags.Contains);

    public string Target => Machine ?? "tags " + string.Join(",", Tags);
}
