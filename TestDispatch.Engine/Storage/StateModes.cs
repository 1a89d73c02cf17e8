using System.IO.Abstractions;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The modes of what the store and the agent keep in a state dir: the root's files (journal, snapshot, locks, agent.log,
/// backups), history/ and its files, and each run's directory, its files and its artifacts/ and work/ directories, never what a test put inside
/// those two. For <c>doctor</c> to report group or other bits on any of them, and <c>doctor --repair</c> to take them off.
/// </summary>
public static class StateModes
{
    /// <summary>What others may read or write there, with its mode.</summary>
    public static IReadOnlyList<(string Path, UnixFileMode Mode)> Loose(IFileSystem fs, StatePaths paths) =>
        [.. Kept(fs, paths).Select(p => (p, fs.File.GetUnixFileMode(p))).Where(p => (p.Item2 & StateDirectory.Others) != 0)];

    /// <summary>Takes the group and other bits off all of it (a directory becomes 0700); returns what it changed.</summary>
    public static IReadOnlyList<(string Path, UnixFileMode Mode)> Tighten(IFileSystem fs, StatePaths paths)
    {
        IReadOnlyList<(string Path, UnixFileMode Mode)> loose = Loose(fs, paths);
        foreach ((string path, UnixFileMode mode) in loose)
        {
            fs.File.SetUnixFileMode(path, fs.Directory.Exists(path) ? FileModes.PrivateDirectory : mode & ~StateDirectory.Others);
        }
        return loose;
    }

    private static IEnumerable<string> Kept(IFileSystem fs, StatePaths paths)
    {
        yield return paths.Root;
        foreach (string file in fs.Directory.EnumerateFiles(paths.Root))
        {
            yield return file;
        }
        if (fs.Directory.Exists(paths.HistoryDir))
        {
            yield return paths.HistoryDir;
            foreach (string file in fs.Directory.EnumerateFiles(paths.HistoryDir))
            {
                yield return file;
            }
        }
        if (!fs.Directory.Exists(paths.RunsDir))
        {
            yield break;
        }
        yield return paths.RunsDir;
        foreach (string run in fs.Directory.EnumerateDirectories(paths.RunsDir))
        {
            yield return run;
            foreach (string file in fs.Directory.EnumerateFiles(run))
            {
                yield return file;
            }
            foreach (string dir in fs.Directory.EnumerateDirectories(run))
            {
                yield return dir;
            }
        }
    }
}
