using System.Text.Json;
using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Machines;

/// <summary>
/// Who holds a machine's lock (docs/DESIGN.md §12), as the run wrapper wrote it into the lock file: the engineer, the
/// controller they dispatched from, their state dir, the run, its test dir and since when. Information shown to people
/// (<c>held_by</c> in <c>machines --json</c>; the names are a contract), never trusted as the lock itself: the kernel's
/// flock is the lock, and a record whose writer is gone says nothing.
/// </summary>
public sealed record LockHolder
{
    public string User { get; init => field = value ?? ""; } = "";

    /// <summary>The controller host the run was dispatched from.</summary>
    public string Host { get; init => field = value ?? ""; } = "";

    public string StateDir { get; init => field = value ?? ""; } = "";

    public string RunId { get; init => field = value ?? ""; } = "";

    public string TestDir { get; init => field = value ?? ""; } = "";

    /// <summary>When the run took the machine, by the controller's clock.</summary>
    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset? Since { get; init; }

    /// <summary>The record as the wrapper writes it: one line of JSON (a newline in a value is escaped).</summary>
    public string ToLine() => JsonSerializer.Serialize(this, LockHolderJson.Default.LockHolder);

    /// <summary>A record read back; one that is not (a stranger's scribble, a file cut short) reads as an unknown holder.</summary>
    public static LockHolder Parse(string? line)
    {
        try
        {
            return line is null ? new() : JsonSerializer.Deserialize(line, LockHolderJson.Default.LockHolder) ?? new();
        }
        catch (JsonException)
        {
            return new();
        }
    }

    /// <summary>For people: "alice@ctl-1 (run 7f3a…, /home/alice/tests/flash) since 2026-12-07T12:00:00Z".</summary>
    public override string ToString() =>
        User.Length == 0 && Host.Length == 0 ? "someone whose holder record cannot be read"
            : $"{User}@{Host} (run {RunId} of state dir {StateDir}, test {TestDir})" + (Since is { } since ? $" since {UtcTimestampConverter.Format(since)}" : "");
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(LockHolder))]
internal sealed partial class LockHolderJson : JsonSerializerContext;
