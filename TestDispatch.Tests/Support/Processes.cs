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
}
