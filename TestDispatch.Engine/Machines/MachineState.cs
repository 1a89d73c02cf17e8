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

    /// <summary>"idle" or "busy" (a pending or running run occupies it).</summary>
    public required string State { get; init; }

    /// <summary>Id of the non-terminal run occupying the machine, or null.</summary>
    public string? CurrentRun { get; init; }

    /// <summary>Status of the newest terminal run on this machine, or null if it never finished one.</summary>
    public RunStatus? LastStatus { get; init; }

    public const string Idle = "idle";
    public const string Busy = "busy";
}
