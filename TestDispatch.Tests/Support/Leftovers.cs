using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using TestDispatch.Engine.IO;

namespace TestDispatch.Tests.Support;

/// <summary>
/// Processes a test left running in its temporary directories (a run's wrapper and test, a "remote" test on the tests'
/// own sshd), found by their working directory, which /proc still names after the directory is deleted. Each
/// <see cref="TempDir"/> ends what it holds when disposed (after a grace for wrappers still cleaning up) and remembers
/// what it had to kill, and whose it was; <see cref="NothingLeftRunning"/> fails the run at its end if anything was.
/// A suite must leave nothing running: before, each full run left two '/bin/sh ./run.sh' looping for ever.
/// </summary>
public static class Leftovers
{
    private static readonly ConcurrentDictionary<string, string> Watched = new(StringComparer.Ordinal);
    private static readonly ConcurrentQueue<string> Killed = new();

    /// <summary>Watches <paramref name="dir"/>, made for <paramref name="owner"/> (the test class, for the report).</summary>
    public static void Watch(string dir, string owner) => Watched[dir] = owner;

    /// <summary>What was found left running and killed so far, each with where and whose.</summary>
    public static IReadOnlyList<string> KilledSoFar => [.. Killed];

    /// <summary>The live processes (zombies aside) whose working directory is <paramref name="dir"/> or under it.</summary>
    public static IReadOnlyList<(int Pid, string What)> In(string dir)
    {
        List<(int, string)> found = [];
        foreach (string proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                string cwd = new FileInfo(Path.Combine(proc, "cwd")).LinkTarget ?? "";
                string where = cwd.EndsWith(" (deleted)", StringComparison.Ordinal) ? cwd[..^" (deleted)".Length] : cwd;
                if (where != dir && !where.StartsWith(dir + "/", StringComparison.Ordinal))
                {
                    continue;
                }
                string stat = File.ReadAllText(Path.Combine(proc, "stat"));
                if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'))
                {
                    continue;
                }
                found.Add((pid, $"pid {pid} ({File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ').Trim()}) in {cwd}"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile, or not ours to look at.
            }
        }
        return found;
    }

    /// <summary>
    /// Gives what runs in <paramref name="dir"/> <paramref name="grace"/> to end by itself (a wrapper stopping what its
    /// test left), then kills what is left and, unless told not to (a test of this very look), remembers it for the end
    /// of the run; returns what it killed.
    /// </summary>
    public static IReadOnlyList<string> End(string dir, TimeSpan grace, bool remember = true)
    {
        DateTime deadline = DateTime.UtcNow + grace;
        IReadOnlyList<(int Pid, string What)> left;
        while ((left = In(dir)).Count > 0 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
        }
        string owner = Watched.TryRemove(dir, out string? who) ? who : "an unknown test";
        foreach ((int pid, string what) in left)
        {
            Libc.Kill(pid, Libc.SIGKILL);
            if (remember)
            {
                Killed.Enqueue($"{what}, left by {owner}");
            }
        }
        return [.. left.Select(l => l.What)];
    }

    /// <summary>Ends what any watched directory still has running (one never disposed): the end of the run's look.</summary>
    public static void EndAll()
    {
        foreach (string dir in Watched.Keys)
        {
            End(dir, TimeSpan.FromSeconds(2));
        }
    }

    /// <summary>The test class on the stack (the first frame in the tests outside Support), for naming who left what.</summary>
    public static string Owner()
    {
        foreach (StackFrame frame in new StackTrace().GetFrames())
        {
            if (frame.GetMethod()?.DeclaringType is { } type && type.Namespace is { } ns &&
                ns.StartsWith("TestDispatch.Tests", StringComparison.Ordinal) && !ns.EndsWith(".Support", StringComparison.Ordinal))
            {
                return (type.DeclaringType ?? type).FullName ?? type.Name;
            }
        }
        return "a fixture";
    }
}
