using System.Globalization;
using System.Runtime.InteropServices;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Signals a test's whole process group, and tells whether a recorded group is still the one we
/// started: the leader's kernel start time (from /proc) must match, so a recycled pid is never hit.
/// </summary>
public static class ProcessGroups
{
    /// <summary>Kernel start time of a process, in clock ticks since boot (/proc/pid/stat field 22); null if it is gone.</summary>
    public static long? StartTicks(int pid) => Stat(pid) is { } fields ? long.Parse(fields[19], CultureInfo.InvariantCulture) : null;

    /// <summary>True once the process <paramref name="pid"/> started at <paramref name="startTicks"/> has exited (gone, or a zombie).</summary>
    public static bool HasExited(int pid, long startTicks) =>
        Stat(pid) is not { } fields || fields[0] == "Z" || long.Parse(fields[19], CultureInfo.InvariantCulture) != startTicks;

    /// <summary>The fields of /proc/pid/stat after the command name, from field 3 (state) on; null if the process is gone.</summary>
    private static string[]? Stat(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        // The command name (field 2) is in parentheses and may hold spaces or ')'; fields after the last ')' are plain.
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to every process of the run's group, unless the group's number
    /// now belongs to someone else (the leader is alive with another start time). Returns false if no
    /// process of the group was left to signal.
    /// </summary>
    public static bool Signal(RunProcess process, int signal)
    {
        if (StartTicks(process.ProcessGroupId) is { } ticks && ticks != process.StartTicks)
        {
            return false;
        }
        if (Libc.Kill(-process.ProcessGroupId, signal) == 0)
        {
            return true;
        }
        // Before setsid(1) has made the new group, the leader is still only a plain process.
        return Marshal.GetLastPInvokeError() == Libc.ESRCH && Libc.Kill(process.ProcessGroupId, signal) == 0;
    }

    /// <summary>True while any process of the run's group is alive.</summary>
    public static bool IsAlive(RunProcess process)
    {
        if (StartTicks(process.ProcessGroupId) is { } ticks && ticks != process.StartTicks)
        {
            return false;
        }
        return Libc.Kill(-process.ProcessGroupId, 0) == 0 || Libc.Kill(process.ProcessGroupId, 0) == 0;
    }

    /// <summary>SIGTERM to the group, then SIGKILL after <paramref name="grace"/> if anything is left.</summary>
    public static async Task TerminateAsync(RunProcess process, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        if (!Signal(process, Libc.SIGTERM))
        {
            return;
        }
        DateTime deadline = DateTime.UtcNow + grace;
        while (DateTime.UtcNow < deadline && IsAlive(process))
        {
            await Task.Delay(20, cancellationToken);
        }
        Signal(process, Libc.SIGKILL);
    }
}
