using System.Text.Json.Serialization;
using TestDispatch.Engine.Results;

namespace TestDispatch.Engine.Runs;

/// <summary>
/// One dispatch of one test directory to one machine: the public JSON contract (docs/DESIGN.md §3).
/// Field names and order are the contract; <c>batch_id</c>/<c>plan_entry</c> are left out when empty,
/// so a single run's JSON has exactly twelve fields. Timestamps are RFC 3339 UTC, null until known.
/// </summary>
public sealed record Run
{
    public required string Id { get; init; }
    public required string Machine { get; init; }
    public required string TestDir { get; init; }
    public required string TestDirHash { get; init; }
    public required RunStatus Status { get; init; }
    public int? ExitCode { get; init; }

    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset? StartedAt { get; init; }

    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset? EndedAt { get; init; }

    public required string ArtifactsPath { get; init; }
    public required string LogsPath { get; init; }

    /// <summary>Empty when the test itself decided the verdict; set when we could not run it.</summary>
    public string ErrorCode { get; init; } = "";

    public string ErrorMsg { get; init; } = "";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? BatchId { get; init; }

    /// <summary>The Slurm node the run's job ran on, once its test started (a pool's machine names no node).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Node { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? PlanEntry { get; init; }

    /// <summary>True when the test's output passed Defaults.LogLimit and the log kept only its head and its tail; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? LogCut { get; init; }

    /// <summary>How its test cases ended, from the JUnit reports the run left; absent when it left none.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TestCounts? Tests { get; init; }

    /// <summary>The reports that could not be read whole, one per line ("artifacts/junit.xml line 17, …"); absent when none. Never changes the verdict.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ResultsError { get; init; }

    [JsonIgnore]
    public TimeSpan? Duration => StartedAt is { } start ? (EndedAt ?? DateTimeOffset.UtcNow) - start : null;
}
