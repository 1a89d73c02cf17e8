using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Machines;

/// <summary>
/// What the fleet remembers of one machine between runs (machines.json): whether it was drained and by whom, its
/// infrastructure failures in a row and whether health holds it, a health-check run in flight, processes a run left
/// alive, and its last verdicts. A machine with no record is in service with no history.
/// </summary>
public sealed record MachineRecord
{
    public DrainMark? Drained { get; init; }

    /// <summary>Runs in a row that ended with an infrastructure error (see <see cref="MachineHealth.IsInfrastructure"/>).</summary>
    public int InfraFailures { get; init; }

    /// <summary>When health took the machine out of service; null while it is in service.</summary>
    public DateTimeOffset? UnhealthySince { get; init; }

    public string? UnhealthyWhy { get; init; }

    /// <summary>The health-check run the machine waits on to return to service; while set, it runs nothing else.</summary>
    public string? CheckRun { get; init; }

    public DirtyMark? Dirty { get; init; }

    /// <summary>A run given up while the machine did not answer, which may still run there; the machine takes no new work until it is seen stopped.</summary>
    public AbandonedRun? Abandoned { get; init; }

    /// <summary>Who held the machine's lock when a run of ours last found it taken (another engineer's run); null once ours took it.</summary>
    public LockHolder? HeldBy { get; init; }

    /// <summary>The last verdicts, oldest first, at most <see cref="MachineHealth.RecentCount"/>.</summary>
    public IReadOnlyList<Verdict> Recent { get; init; } = [];

    public static MachineRecord None { get; } = new();
}

/// <summary>Who drained a machine, when, and why (the reason may be empty).</summary>
public sealed record DrainMark(string By, [property: JsonConverter(typeof(UtcTimestampConverter))] DateTimeOffset? At, string Reason);

/// <summary>Processes of <see cref="Run"/> that survived SIGKILL: the machine runs nothing until someone looks and resumes it.</summary>
public sealed record DirtyMark(string Run, IReadOnlyList<int> Pids, [property: JsonConverter(typeof(UtcTimestampConverter))] DateTimeOffset? At);

/// <summary>A run given up on a machine that stopped answering: where it lives there, when and why it was given up.</summary>
public sealed record AbandonedRun(string Run, string RunDir, [property: JsonConverter(typeof(UtcTimestampConverter))] DateTimeOffset? At, string Why);

/// <summary>How one run on the machine ended: its id, status and error code (empty when the test decided).</summary>
public sealed record Verdict(string Id, RunStatus Status, string ErrorCode);

/// <summary>Every machine's record, by name: the whole content of machines.json.</summary>
public sealed record FleetRecord
{
    public IReadOnlyDictionary<string, MachineRecord> Machines { get; init; } = new Dictionary<string, MachineRecord>();

    public MachineRecord this[string machine] => Machines.GetValueOrDefault(machine) ?? MachineRecord.None;

    public FleetRecord With(string machine, MachineRecord record) =>
        new() { Machines = new Dictionary<string, MachineRecord>(Machines, StringComparer.Ordinal) { [machine] = record } };

    public static FleetRecord Empty { get; } = new();
}
