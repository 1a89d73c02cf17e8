using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Machines;

/// <summary>
/// The health rule, as pure functions over the fleet's record: a machine whose runs end with infrastructure errors
/// <see cref="HealthRules.InfraFailuresInARow"/> times in a row is held as unhealthy, unless that would hold more than
/// <see cref="HealthRules.MaxHeldShare"/> of the machines matching one of its tags (or of the fleet): one bad test that
/// breaks every rig it touches then costs a share of the fleet, never all of it. A test's own failures never count.
/// </summary>
public static class MachineHealth
{
    public const int RecentCount = 10;

    public const string Healthy = "healthy";
    public const string Failing = "failing";
    public const string Unhealthy = "unhealthy";
    public const string Checking = "checking";
    public const string Dirty = "dirty";

    /// <summary>The errors that say the machine (or the way to it) failed, not the test.</summary>
    public static bool IsInfrastructure(string errorCode) => errorCode is
        ErrorCodes.TransportUnreachable or ErrorCodes.CopyFailed or ErrorCodes.ArtifactsFailed or ErrorCodes.AgentLost or ErrorCodes.SpawnFailed or ErrorCodes.JobLost;

    /// <summary>
    /// The fleet after <paramref name="ended"/>, a run its machine's loop took to its end: its verdict joins the recent
    /// ones, it counts for or against the machine's health, ends a health check, or marks the machine dirty. Recording
    /// the same run twice changes nothing.
    /// </summary>
    public static FleetRecord Record(FleetRecord fleet, RunRecord ended, IReadOnlyList<Machine> machines, HealthRules rules, DateTimeOffset now)
    {
        Run run = ended.Run;
        MachineRecord m = fleet[run.Machine];
        if (!run.Status.IsTerminal() || m.Recent.Any(v => v.Id == run.Id))
        {
            return fleet;
        }
        m = m with { Recent = [.. m.Recent.TakeLast(RecentCount - 1), new Verdict(run.Id, run.Status, run.ErrorCode)] };
        if (ended.Leftovers is [_, ..] pids)
        {
            m = m with { Dirty = new DirtyMark(run.Id, [.. pids], now) };
        }
        if (m.CheckRun == run.Id)
        {
            return fleet.With(run.Machine, run.Status == RunStatus.Completed
                ? m with { CheckRun = null, UnhealthySince = null, UnhealthyWhy = null, InfraFailures = 0 }
                : m with
                {
                    CheckRun = null,
                    UnhealthySince = now,
                    UnhealthyWhy = $"its health check (run {run.Id}) ended {run.Status.ToWord()}{(run.ErrorCode.Length > 0 ? $" ({run.ErrorCode})" : "")}",
                });
        }
        if (IsInfrastructure(run.ErrorCode))
        {
            m = m with { InfraFailures = m.InfraFailures + 1 };
        }
        else if (run.Status is RunStatus.Completed or RunStatus.Timeout || (run.Status == RunStatus.Failed && run.ErrorCode.Length == 0))
        {
            m = m with { InfraFailures = 0 }; // the machine ran a test to its end: it works, whatever the test said
        }
        if (m.UnhealthySince is null && m.InfraFailures >= rules.InfraFailuresInARow && MayHold(fleet, run.Machine, machines, rules))
        {
            m = m with
            {
                UnhealthySince = now,
                UnhealthyWhy = $"{m.InfraFailures} infrastructure failures in a row, the last {run.ErrorCode} in run {run.Id}",
            };
        }
        return fleet.With(run.Machine, m);
    }

    /// <summary>
    /// Whether holding <paramref name="machine"/> keeps, for the whole fleet and for each of its tags, the machines
    /// held by health at most <see cref="HealthRules.MaxHeldShare"/> of those matching.
    /// </summary>
    public static bool MayHold(FleetRecord fleet, string machine, IReadOnlyList<Machine> machines, HealthRules rules)
    {
        if (machines.FirstOrDefault(m => m.Name == machine) is not { } me)
        {
            return false;
        }
        foreach (string? tag in me.Tags.Prepend(null))
        {
            Machine[] matching = [.. machines.Where(m => m.CanRunTests && (tag is null || m.Tags.Contains(tag)))];
            int held = 1 + matching.Count(m => m.Name != machine && fleet[m.Name].UnhealthySince is not null);
            if (held > rules.MaxHeldShare * matching.Length)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The health word for <c>machines</c>: dirty, checking, unhealthy, failing (held back by the cap) or healthy.</summary>
    public static string Status(MachineRecord m, HealthRules rules) =>
        m.Dirty is not null ? Dirty
        : m.CheckRun is not null ? Checking
        : m.UnhealthySince is not null ? Unhealthy
        : m.InfraFailures >= rules.InfraFailuresInARow ? Failing
        : Healthy;
}
