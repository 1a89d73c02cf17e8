using System.Text.Json.Serialization;

namespace TestDispatch.Engine.Runs;

/// <summary>Lifecycle of a run. The JSON strings are a public contract; the last four are terminal.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RunStatus>))]
public enum RunStatus
{
    [JsonStringEnumMemberName("pending")] Pending,
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("completed")] Completed,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("interrupted")] Interrupted,
    [JsonStringEnumMemberName("timeout")] Timeout,
}

public static class RunStatusExtensions
{
    public static bool IsTerminal(this RunStatus status) => status is not (RunStatus.Pending or RunStatus.Running);

    /// <summary>The contract word for a status, as in the JSON.</summary>
    public static string ToWord(this RunStatus status) => status switch
    {
        RunStatus.Pending => "pending",
        RunStatus.Running => "running",
        RunStatus.Completed => "completed",
        RunStatus.Failed => "failed",
        RunStatus.Interrupted => "interrupted",
        RunStatus.Timeout => "timeout",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static bool TryParse(string word, out RunStatus status)
    {
        foreach (RunStatus candidate in Enum.GetValues<RunStatus>())
        {
            if (string.Equals(candidate.ToWord(), word, StringComparison.OrdinalIgnoreCase))
            {
                status = candidate;
                return true;
            }
        }
        status = default;
        return false;
    }
}
