using System.Text;
using TestDispatch.Engine.Processes;

namespace TestDispatch.Engine.Wrapper;

/// <summary>
/// Finds a run's wrapper on this host by its command line (<c>sh …/wrapper.sh run DIR RUN_ID …</c>), for the instant
/// between its start and its first file: an agent that died right after starting it left no other trace of it.
/// </summary>
public static class WrapperProcesses
{
    /// <summary>The live wrapper running <paramref name="runId"/> in <paramref name="runDir"/>, if there is one: its pid and start ticks.</summary>
    public static (int Pid, long StartTicks)? Find(string runDir, string runId)
    {
        byte[] wanted = Encoding.UTF8.GetBytes($"\0run\0{runDir}\0{runId}\0");
        foreach (string entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int pid))
            {
                continue;
            }
            byte[] cmdline;
            try
            {
                cmdline = File.ReadAllBytes(Path.Combine(entry, "cmdline"));
            }
            catch (IOException)
            {
                continue; // gone meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            if (cmdline.AsSpan().IndexOf(wanted) >= 0 && ProcFs.StartTicks(pid) is { } ticks && ProcFs.IsRunning(pid, ticks))
            {
                return (pid, ticks);
            }
        }
        return null;
    }
}
