using System.Globalization;

namespace TestDispatch.Engine.Processes;

/// <summary>
/// What /proc says about this machine and its processes: a process's kernel start time (so a recycled pid is never
/// taken for ours), whether it still runs, seconds since boot, and the boot id that tells one boot from the next.
/// </summary>
public static class ProcFs
{
    /// <summary>Names a file holding the boot id to use instead of the kernel's: how tests simulate a reboot.</summary>
    public const string BootIdFileVariable = "TESTDISPATCH_BOOT_ID_FILE";

    private const string KernelBootId = "/proc/sys/kernel/random/boot_id";

    /// <summary>Kernel start time of a process, in clock ticks since boot (/proc/pid/stat field 22); null if it is gone.</summary>
    public static long? StartTicks(int pid) => Stat(pid) is { } fields ? long.Parse(fields[19], CultureInfo.InvariantCulture) : null;

    /// <summary>True while the process <paramref name="pid"/> that started at <paramref name="startTicks"/> runs (a zombie has ended).</summary>
    public static bool IsRunning(int pid, long startTicks) =>
        pid > 0 && Stat(pid) is { } fields && fields[0] != "Z" && long.Parse(fields[19], CultureInfo.InvariantCulture) == startTicks;

    /// <summary>Seconds since this machine booted (/proc/uptime), the clock the run wrapper writes its times in.</summary>
    public static double Uptime() =>
        double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>This boot's id: a new one after every reboot, when every recorded pid means nothing any more.</summary>
    public static string BootId() =>
        File.ReadAllText(Environment.GetEnvironmentVariable(BootIdFileVariable) is { Length: > 0 } file ? file : KernelBootId).Trim();

    /// <summary>The fields of /proc/pid/stat after the command name, from field 3 (state) on; null if the process is gone.</summary>
    internal static string[]? Stat(int pid)
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
}
