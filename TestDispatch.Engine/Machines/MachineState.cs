using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Machines;

/// <summary>A machine as a user sees it now: configuration plus what occupies it (DESIGN §9 <c>machines --json</c>).</summary>
public sealed record MachineState([property: JsonIgnore] Machine Machine)
{
    public string Name => Machine.Name;

    public string Transport => Machine.Transport == TransportKind.Local ? "local" : "ssh";

    public string? Host => Machine.Host;

    public IReadOnlyList<string> Tags => Machine.Tags;

    /// <summary>"idle", "busy" (a pending or running run occupies it), or "unreachable" (the agent's last try to reach it failed).</summary>
    public required string State { get; init; }

    /// <summary>Id of the non-terminal run occupying the machine, or null.</summary>
    public string? CurrentRun { get; init; }

    /// <summary>Status of the newest terminal run on this machine, or null if it never finished one.</summary>
    public RunStatus? LastStatus { get; init; }

    /// <summary>Why the agent could not reach the machine (ssh's message), while it cannot; else null.</summary>
    public string? Unreachable { get; init; }

    /// <summary>Since when the machine answers, or since when it does not (see <see cref="Unreachable"/>); null before the agent's first contact.</summary>
    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset? Since { get; init; }

    /// <summary>When the agent last had an answer from the machine (ssh machines only).</summary>
    [JsonConverter(typeof(UtcTimestampConverter))]
    public DateTimeOffset? LastContact { get; init; }

    public const string Idle = "idle";
    public const string UnreachableState = "unreachable";
    public const string Busy = "busy";
}
