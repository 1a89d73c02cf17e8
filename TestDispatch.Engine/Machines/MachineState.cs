using System.Text.Json.Serialization;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Machines;

/// <summary>
/// A machine as a user sees it now: configuration plus what occupies it, its queue, whether it is in service and its
/// last verdicts (docs/DESIGN.md §9 <c>machines --json</c>; the names are a contract).
/// </summary>
public sealed record MachineState([property: JsonIgnore] Machine Machine)
{
    public string Name => Machine.Name;

    public string Transport => Machine.Transport.ToString().ToLowerInvariant();

    public string? Host => Machine.Host;

    public IReadOnlyList<string> Tags => Machine.Tags;

    /// <summary>
    /// idle, busy (a run occupies it), draining (drained, its current run still going), drained, dirty, unhealthy,
    /// checking (waiting on its health check), unreachable (the agent could not reach it), or unsupported (this build cannot run tests there). Only a machine that
    /// takes work now is idle.
    /// </summary>
    public required string State { get; init; }

    /// <summary>Id of the run occupying the machine (running, or next to start), or null.</summary>
    public string? CurrentRun { get; init; }

    /// <summary>
    /// Who holds the machine from elsewhere (another state dir, another controller) while our <see cref="CurrentRun"/> waits
    /// for it, as the holder's record says; null when nothing of ours waits for it.
    /// </summary>
    public LockHolder? HeldBy { get; init; }

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
    /// <summary>healthy, failing (infrastructure failures in a row, kept in service by the share cap), unhealthy, checking or dirty.</summary>
    public string Health { get; init; } = MachineHealth.Healthy;

    /// <summary>Runs in a row that ended with an infrastructure error.</summary>
    public int InfraFailures { get; init; }

    /// <summary>Why the machine is not healthy (with since when), or null.</summary>
    public string? HealthReason { get; init; }

    /// <summary>
    /// A Slurm machine's node (or a pool's nodes) as Slurm sees it: <c>n2 drained (maintenance)</c>; null for other machines.
    /// Slurm's drain is the cluster's; <c>machine drain</c> is this user's own hold (see <see cref="Drained"/>).
    /// </summary>
    public string? Slurm { get; init; }

    /// <summary>Who drained the machine, when and why; null while it is in service.</summary>
    public DrainMark? Drained { get; init; }

    /// <summary>Its queued runs (pending, after the current one), first to start first.</summary>
    public IReadOnlyList<string> Queue { get; init; } = [];

    /// <summary>Its last verdicts (at most ten), oldest first.</summary>
    public IReadOnlyList<Verdict> Recent { get; init; } = [];

    /// <summary>Processes a run left alive after SIGKILL, or null.</summary>
    public DirtyMark? Dirty { get; init; }

    /// <summary>A run given up while it did not answer may still run there (see <see cref="AbandonedRun"/>).</summary>
    public AbandonedRun? Abandoned { get; init; }

    public const string Idle = "idle";
    public const string InDoubt = "unknown";
    public const string UnreachableState = "unreachable";
    public const string Busy = "busy";
    public const string Draining = "draining";
    public const string DrainedWord = "drained";
    public const string Unsupported = "unsupported";
}
