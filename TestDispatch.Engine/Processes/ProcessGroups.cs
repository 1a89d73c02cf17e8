using System.Runtime.InteropServices;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Processes;

/// <summary>
/// Signals a whole process group on this host, unless its number now belongs to someone else: the leader alive with
/// another start time means the pid was recycled. For runs recorded by builds before the run wrapper, whose test was
/// the agent's own child; the wrapper does this itself for every run since.
/// </summary>
public static class ProcessGroups
{
    /// <summary>Sends <paramref name="signal"/> to group <paramref name="pgid"/> led at <paramref name="startTicks"/>; false if none of it was left.</summary>
    public static bool Signal(int pgid, long startTicks, int signal)
    {
        if (pgid <= 0 || (ProcFs.StartTicks(pgid) is { } ticks && ticks != startTicks))
        {
            return false;
        }
        if (Libc.Kill(-pgid, signal) == 0)
        {
            return true;
        }
        // Before setsid(1) has made the new group, the leader is still only a plain process.
        return Marshal.GetLastPInvokeError() == Libc.ESRCH && Libc.Kill(pgid, signal) == 0;
    }
}
