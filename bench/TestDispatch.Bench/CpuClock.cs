using System.Globalization;
using System.Runtime.InteropServices;

namespace TestDispatch.Bench;

/// <summary>CPU time of this process, this thread, or reaped children, from the kernel (not wall time: shared machines are noisy).</summary>
internal static class CpuClock
{
    private const int ProcessCpuTime = 2; // CLOCK_PROCESS_CPUTIME_ID
    private const int ThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    public static double ProcessMs() => Read(ProcessCpuTime);

    public static double ThreadMs() => Read(ThreadCpuTime);

    /// <summary>user+system CPU of the children this process has waited for.</summary>
    public static double ChildrenMs() => GetRusage(-1, out RUsage usage) == 0
        ? (usage.UserSeconds + usage.SystemSeconds) * 1000.0 + (usage.UserMicroseconds + usage.SystemMicroseconds) / 1000.0
        : double.NaN;

    /// <summary>utime + stime of a live process from /proc/&lt;pid&gt;/stat (10 ms ticks), or NaN.</summary>
    public static double OfProcessMs(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return double.NaN;
        }
    }

    private static double Read(int clock) =>
        ClockGetTime(clock, out TimeSpec now) == 0 ? now.Seconds * 1000.0 + now.Nanoseconds / 1e6 : double.NaN;

    // DllImport rather than LibraryImport: the generated marshalling of an out struct would need unsafe code.
    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec value);

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, out RUsage usage);

    /// <summary>struct rusage on 64-bit Linux: two timevals, then 14 longs not read here.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 144)]
    private struct RUsage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}