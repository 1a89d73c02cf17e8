using CliWrap;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Tests.Support;

/// <summary>Looks for processes by a marker in their command line, to prove a run's process tree is gone.</summary>
public static class Processes
{
    public static IReadOnlyList<int> WithArgument(string marker)
    {
        List<int> found = [];
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                bool zombie = stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
                if (!zombie && cmdline.Contains(marker, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }
        return found;
    }

    /// <summary>A process's command line, its arguments joined by spaces; empty once it is gone.</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>The live (not zombie) processes whose environment carries the run's id: what is left of its test.</summary>
    public static IReadOnlyList<int> CarryingRun(string runId)
    {
        byte[] wanted = System.Text.Encoding.ASCII.GetBytes($"TESTDISPATCH_RUN_ID={runId}\0");
        List<int> found = [];
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                if (!stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z') && File.ReadAllBytes(Path.Combine(dir, "environ")).AsSpan().IndexOf(wanted) >= 0)
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    /// <summary>Whether any process (a zombie too) is in process group <paramref name="group"/>.</summary>
    public static bool InGroup(int group)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
            {
                continue;
            }
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[2] == group.ToString(System.Globalization.CultureInfo.InvariantCulture))
                {
                    return true;
                }
            }
            catch (IOException)
            {
            }
        }
        return false;
    }

    /// <summary>Kills a run's wrapper and everything of its test, at once (no grace): for cleaning up after a failed test.</summary>
    public static void StopRun(string runDir, string runId)
    {
        if (!Directory.Exists(runDir))
        {
            return;
        }
        if (File.Exists(Path.Combine(runDir, "wrapper")) &&
            WrapperState.Identity(File.ReadAllText(Path.Combine(runDir, "wrapper"))) is { } wrapper)
        {
            Engine.Processes.ProcessGroups.Signal(wrapper.Pid, wrapper.StartTicks, 9);
        }
        string script = Path.Combine(Path.GetTempPath(), $"td-stop-{Environment.ProcessId}.sh");
        File.WriteAllText(script, RunWrapper.Script);
        Cli.Wrap("sh").WithArguments(RunWrapper.StopArguments(script, runDir, runId, TimeSpan.Zero, RunWrapper.Cleanup))
            .WithValidation(CommandResultValidation.None).ExecuteAsync().GetAwaiter().GetResult();
    }
}
