using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// One hit of a search over history's logs (<c>grep</c>), a line of its JSON-lines contract (<see cref="LogJson"/>): the run
/// and the hit. <see cref="Kind"/> is <c>binary_file</c> for a log holding NUL bytes, which gets one such hit and no text
/// (as grep's "Binary file matches"); with files-with-matches (<c>-l</c>) a run's one hit has only the run's fields.
/// </summary>
public sealed record RunLogHit
{
    public required string Run { get; init; }
    public required string Machine { get; init; }
    public required RunStatus Status { get; init; }

    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset? EndedAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? LineNo { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Text { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public LogHitKind? Kind { get; init; }

    /// <summary>True when the line was longer than the search's bound and cut around the match; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Cut { get; init; }

    /// <summary>Where the hit's line starts in the log, for a view to go there; not in the JSON contract.</summary>
    [JsonIgnore]
    public long Offset { get; init; }

    public static RunLogHit Of(Run run, LogHit hit, bool runOnly) => new()
    {
        Run = run.Id,
        Machine = run.Machine,
        Status = run.Status,
        EndedAt = run.EndedAt,
        LineNo = runOnly ? null : hit.LineNumber,
        Text = runOnly || hit.Kind == LogHitKind.BinaryFile ? null : hit.Text,
        Kind = runOnly ? null : hit.Kind,
        Cut = !runOnly && hit.Cut ? true : null,
        Offset = hit.Offset,
    };
}
