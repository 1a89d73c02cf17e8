using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Machines;

/// <summary>
/// Why a machine takes no new work, for whoever waits on work only it may run: the code (machine_drained, machine_dirty,
/// machine_unhealthy, machine_in_doubt), the reason in a lab engineer's words, and the command that lifts it. <see cref="Stuck"/> when
/// nothing but a person ends it and nobody asked for it (a dirty machine; one held by health with no health check):
/// a waiter then stops with the code rather than wait for ever. A drain (someone asked for it, and their resume ends
/// it) or a health check still to come only makes a waiter say what it waits for.
/// </summary>
public sealed record Hold(string Machine, string ErrorCode, string Why, bool Stuck)
{
    /// <summary>What a user types to lift it.</summary>
    public string Lift => $"'testdispatch machine resume {Machine}'";

    /// <summary>The hold on <paramref name="machine"/> as its record says, or null while it is in service.</summary>
    public static Hold? Of(Machine machine, MachineRecord record, HealthRules rules)
    {
        string name = machine.Name;
        if (record.Drained is { } drain)
        {
            return new Hold(name, ErrorCodes.MachineDrained,
                $"{name} drained by {drain.By}{(drain.At is { } at ? $" at {UtcTimestampConverter.Format(at)}" : "")}{(drain.Reason.Length > 0 ? $" ({drain.Reason})" : "")}",
                Stuck: false);
        }
        if (record.Dirty is { } dirty)
        {
            return new Hold(name, ErrorCodes.MachineDirty,
                $"{name} dirty: run {dirty.Run} left processes alive after SIGKILL (pids {string.Join(" ", dirty.Pids)}, see 'testdispatch doctor')", Stuck: true);
        }
        if (record.Abandoned is { } abandoned)
        {
            // The agent lifts it as soon as the machine answers and the run given up there is stopped.
            return new Hold(name, ErrorCodes.MachineInDoubt,
                $"{name} unknown: run {abandoned.Run} was given up while it did not answer and may still run there; it takes work again once " +
                "the agent reaches it and stops that run", Stuck: false);
        }
        if (record.CheckRun is { } check)
        {
            return new Hold(name, ErrorCodes.MachineUnhealthy, $"{name} waits on its health check, run {check}", Stuck: false);
        }
        if (record.UnhealthySince is { } since)
        {
            string why = $"{name} held after {record.UnhealthyWhy ?? "infrastructure failures"}";
            return machine.HealthCheck is null
                ? new Hold(name, ErrorCodes.MachineUnhealthy, why, Stuck: true)
                : new Hold(name, ErrorCodes.MachineUnhealthy,
                    $"{why}; its health check runs again from {UtcTimestampConverter.Format(since + rules.CheckAfter)}", Stuck: false);
        }
        return null;
    }
}
