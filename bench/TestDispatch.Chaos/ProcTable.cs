using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace TestDispatch.Chaos;

/// <summary>One process of this host as /proc shows it, with the run it belongs to if it carries one.</summary>
/// <param name="RunId">From its environment (<c>TESTDISPATCH_RUN_ID</c>: a test and what it started) or, for a run wrapper
/// and its <c>stop</c>, from its command line (<c>sh …/wrapper.sh run|stop DIR RUN_ID …</c>).</param>
/// <param name="Machine">From its environment (<c>TESTDISPATCH_MACHINE</c>): set on a test's processes only.</param>
internal sealed record ProcessInfo(int Pid, int ParentPid, string Comm, IReadOnlyList<string> Argv, string Cwd, string? RunId, string? Machine, bool IsWrapper)
{
    /// <summary>Whether it works in <paramref name="root"/> or names it on its command line: one of a chaos run's processes.</summary>
    public bool IsUnder(string root) => Cwd == root || Cwd.StartsWith(root + "/", StringComparison.Ordinal) || Mentions(root);

    public string CommandLine => string.Join(' ', Argv);

    public bool Mentions(string text) => Argv.Any(arg => arg.Contains(text, StringComparison.Ordinal));
}

/// <summary>Reads every live process (zombies aside: they are dead, only not yet reaped) from /proc.</summary>
internal static partial class ProcTable
{
    public const int SIGKILL = 9;
    public const int SIGCONT = 18;
    public const int SIGSTOP = 19;
    public const int SIGTERM = 15;

    public static IReadOnlyList<ProcessInfo> Read()
    {
        List<ProcessInfo> found = [];
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid != Environment.ProcessId
                && ReadOne(pid) is { } process)
            {
                found.Add(process);
            }
        }
        return found;
    }

    /// <summary>Sends <paramref name="signal"/>; false if the process is gone.</summary>
    public static bool Signal(int pid, int signal) => pid > 1 && Kill(pid, signal) == 0;

    private static ProcessInfo? ReadOne(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            string comm = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close];
            string[] fields = stat[(close + 2)..].Split(' ');
            if (fields[0] is "Z" or "X")
            {
                return null;
            }
            int parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
            string[] argv = Split(File.ReadAllBytes($"/proc/{pid}/cmdline"));
            string? runId = null, machine = null;
            foreach (string variable in Split(File.ReadAllBytes($"/proc/{pid}/environ")))
            {
                if (variable.StartsWith("TESTDISPATCH_RUN_ID=", StringComparison.Ordinal))
                {
                    runId = variable["TESTDISPATCH_RUN_ID=".Length..];
                }
                else if (variable.StartsWith("TESTDISPATCH_MACHINE=", StringComparison.Ordinal))
                {
                    machine = variable["TESTDISPATCH_MACHINE=".Length..];
                }
            }
            int script = Array.FindIndex(argv, arg => arg.EndsWith("/wrapper.sh", StringComparison.Ordinal));
            bool wrapper = script >= 0 && argv.Length > script + 3 && argv[script + 1] is "run" or "stop";
            if (wrapper)
            {
                runId = argv[script + 3];
            }
            string cwd = new FileInfo($"/proc/{pid}/cwd").LinkTarget ?? "";
            cwd = cwd.EndsWith(" (deleted)", StringComparison.Ordinal) ? cwd[..^" (deleted)".Length] : cwd;
            return new ProcessInfo(pid, parent, comm, argv, cwd, runId, machine, wrapper && argv[script + 1] == "run");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null; // gone meanwhile, or a kernel thread
        }
    }

    private static string[] Split(byte[] nulSeparated) =>
        Encoding.UTF8.GetString(nulSeparated).Split('\0', StringSplitOptions.RemoveEmptyEntries);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
