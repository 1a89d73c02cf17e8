using System.Text;
using Microsoft.Extensions.FileSystemGlobbing;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// Which files of a remote run's work dir its report patterns (<see cref="RunFiles.ResultPatterns"/>) name: the machine
/// lists the files under the patterns' fixed leading directories (<see cref="Roots"/>), and they are matched here, by the
/// same globbing a local run's work dir is matched with, so a pattern means one thing wherever the test ran.
/// </summary>
internal static class RemoteReports
{
    /// <summary>
    /// The directories of the work dir the files of <paramref name="patterns"/> are under: each pattern's leading segments
    /// up to its first wildcard, or its file name ("build/test-results/**/*.xml" is under "build/test-results"); "." for
    /// the whole work dir.
    /// </summary>
    public static IReadOnlyList<string> Roots(IReadOnlyList<string> patterns)
    {
        List<string> roots = [];
        foreach (string pattern in patterns)
        {
            string[] segments = pattern.Split('/', StringSplitOptions.RemoveEmptyEntries);
            string root = string.Join('/', segments[..^1].TakeWhile(s => !s.Contains('*', StringComparison.Ordinal) && s != "."));
            if (root.Length == 0)
            {
                return ["."];
            }
            roots.Add(root);
        }
        return [.. roots.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The paths (relative to the work dir, in ordinal order, each once) <paramref name="patterns"/> match in
    /// <paramref name="listing"/>: what <see cref="RemoteScripts.ListWork"/> sent, NUL-ended paths behind "./".
    /// </summary>
    public static IReadOnlyList<string> Match(byte[] listing, IReadOnlyList<string> patterns)
    {
        IEnumerable<string> files = Encoding.UTF8.GetString(listing).Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(path => path.StartsWith("./", StringComparison.Ordinal) ? path[2..] : path);
        Matcher matcher = new(StringComparison.Ordinal);
        matcher.AddIncludePatterns(patterns);
        return [.. matcher.Match(WorkDir, files).Files.Select(f => f.Path).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>Where the listed paths are taken to be, for the matcher: only their paths under it matter.</summary>
    private const string WorkDir = "/work";
}
