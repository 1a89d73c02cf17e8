using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Machines;

/// <summary>
/// Which work each machine may take now, from the fleet's record (read once per look). A machine in service takes its
/// queue and batch items; a drained, dirty or unhealthy one takes nothing new, but a machine waiting on its health check
/// starts that run. A batch entry retried after an infrastructure failure, or whose try left a machine another engineer
/// holds, goes to another machine in service that may run it, and back to that one only when there is no other.
/// </summary>
public sealed class Placement(IReadOnlyList<Machine> machines, FleetRecord fleet)
{
    /// <summary>Everything may go anywhere (no fleet record): what the store does without one.</summary>
    public static Placement Open { get; } = new([], FleetRecord.Empty) { _open = true };

    private bool _open;

    public FleetRecord Fleet => fleet;

    /// <summary>Whether the machine takes new work: configured, able to run tests, and not drained, dirty or held by health.</summary>
    public bool InService(string machine) => _open || (machines.FirstOrDefault(m => m.Name == machine) is { CanRunTests: true } && IsFree(fleet[machine]));

    private static bool IsFree(MachineRecord m) => m is { Drained: null, Dirty: null, CheckRun: null, UnhealthySince: null, Abandoned: null };

    /// <summary>Whether a pending run (queued or just dispatched) may start on its machine now.</summary>
    public bool MayStart(RunRecord pending)
    {
        if (_open)
        {
            return true;
        }
        MachineRecord m = fleet[pending.Run.Machine];
        return m.Drained is null && m.Dirty is null && m.Abandoned is null && (m.CheckRun is { } check ? check == pending.Id : m.UnhealthySince is null);
    }

    /// <summary>
    /// Whether <paramref name="machine"/> takes the waiting <paramref name="entry"/>, whose latest run (if it was tried)
    /// is <paramref name="last"/>.
    /// </summary>
    public bool Takes(string machine, BatchEntry entry, LatestTry? last)
    {
        if (!InService(machine))
        {
            return false;
        }
        if (_open || last is null || last.Machine != machine || !(ErrorCodes.IsRetryable(last.ErrorCode) || last.ErrorCode == ErrorCodes.MachineBusyElsewhere))
        {
            return true;
        }
        return !machines.Any(m => m.Name != machine && entry.Targets(m.Name, m.Tags) && InService(m.Name));
    }
}
