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
    /// <summary>What others may read or write there, with its mode. What vanishes while it is looked at (a run removed) is not in it.</summary>
    public static IReadOnlyList<(string Path, UnixFileMode Mode)> Loose(IFileSystem fs, StatePaths paths) =>
        [.. Kept(fs, paths).Select(p => (Path: p, Mode: ModeOf(fs, p))).Where(p => p.Mode is { } mode && (mode & StateDirectory.Others) != 0)
            .Select(p => (p.Path, p.Mode!.Value))];

    /// <summary>Takes the group and other bits off all of it (a directory becomes 0700); returns what it changed.</summary>
    public static IReadOnlyList<(string Path, UnixFileMode Mode)> Tighten(IFileSystem fs, StatePaths paths)
    {
        List<(string Path, UnixFileMode Mode)> changed = [];
        foreach ((string path, UnixFileMode mode) in Loose(fs, paths))
        {
            try
            {
                fs.File.SetUnixFileMode(path, fs.Directory.Exists(path) ? FileModes.PrivateDirectory : mode & ~StateDirectory.Others);
                changed.Add((path, mode));
            }
            catch (Exception e) when (Vanished(e))
            {
                // Removed since it was looked at: nothing left to make private.
            }
        }
        return changed;
    }

    /// <summary>
    /// Every path it keeps. The state dir changes under the walk (the agent removes a run's work/, prune removes runs): a
    /// directory or file that vanishes between being listed and being looked at is simply no longer there, never an error
    /// that stops doctor mid-report.
    /// </summary>
    private static IEnumerable<string> Kept(IFileSystem fs, StatePaths paths)
    {
        yield return paths.Root;
        foreach (string file in Listing(() => fs.Directory.EnumerateFiles(paths.Root)))
        {
            yield return file;
        }
        if (fs.Directory.Exists(paths.HistoryDir))
        {
            yield return paths.HistoryDir;
            foreach (string file in Listing(() => fs.Directory.EnumerateFiles(paths.HistoryDir)))
            {
                yield return file;
            }
        }
        if (!fs.Directory.Exists(paths.RunsDir))
        {
            yield break;
        }
        yield return paths.RunsDir;
        foreach (string run in Listing(() => fs.Directory.EnumerateDirectories(paths.RunsDir)))
        {
            yield return run;
            foreach (string file in Listing(() => fs.Directory.EnumerateFiles(run)))
            {
                yield return file;
            }
            foreach (string dir in Listing(() => fs.Directory.EnumerateDirectories(run)))
            {
                yield return dir;
            }
        }
    }

    /// <summary>A directory's entries as they come, ending where the directory vanished (when listed, or while it is read).</summary>
    private static IEnumerable<string> Listing(Func<IEnumerable<string>> list)
    {
        IEnumerator<string> entries;
        try
        {
            entries = list().GetEnumerator();
        }
        catch (Exception e) when (Vanished(e))
        {
            yield break;
        }
        using (entries)
        {
            while (true)
            {
                bool more;
                try
                {
                    more = entries.MoveNext();
                }
                catch (Exception e) when (Vanished(e))
                {
                    more = false;
                }
                if (!more)
                {
                    yield break;
                }
                yield return entries.Current;
            }
        }
    }

    private static UnixFileMode? ModeOf(IFileSystem fs, string path)
    {
        try
        {
            return fs.File.GetUnixFileMode(path);
        }
        catch (Exception e) when (Vanished(e))
        {
            return null;
        }
    }

    private static bool Vanished(Exception e) => e is FileNotFoundException or DirectoryNotFoundException;
}
