using System.IO.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>How much disk a state dir takes, by part: what <c>doctor</c> reports so retention can be chosen knowingly.</summary>
public static class StateSize
{
    public static string Describe(IFileSystem fs, StatePaths paths)
    {
        long store = Sum(fs, paths.Root, SearchOption.TopDirectoryOnly);
        long history = fs.Directory.Exists(paths.HistoryDir) ? Sum(fs, paths.HistoryDir, SearchOption.AllDirectories) : 0;
        long runs = fs.Directory.Exists(paths.RunsDir) ? Sum(fs, paths.RunsDir, SearchOption.AllDirectories) : 0;
        return $"state dir {ByteSize.Format(store + history + runs)}: hot state {ByteSize.Format(store)}, history {ByteSize.Format(history)}, " +
            $"logs and artifacts {ByteSize.Format(runs)} ('testdispatch prune --older-than 90d' removes old runs)";
    }

    /// <summary>
    /// The bytes of the files under <paramref name="directory"/>. The state dir changes under the walk (a run's work/ removed,
    /// a run pruned): a file or directory that vanishes meanwhile is not counted, and the walk goes on with the others.
    /// </summary>
    private static long Sum(IFileSystem fs, string directory, SearchOption depth)
    {
        long total = 0;
        try
        {
            foreach (string file in fs.Directory.EnumerateFiles(directory))
            {
                try
                {
                    IFileInfo info = fs.FileInfo.New(file);
                    total += info.Attributes.HasFlag(FileAttributes.ReparsePoint) ? 0 : info.Length;
                }
                catch (Exception e) when (IoErrors.IsIo(e))
                {
                    // Gone meanwhile: not counted.
                }
            }
            if (depth == SearchOption.TopDirectoryOnly)
            {
                return total;
            }
            foreach (string sub in fs.Directory.EnumerateDirectories(directory))
            {
                total += IsLink(fs, sub) ? 0 : Sum(fs, sub, depth); // what a test's symlink points to is not the state dir's
            }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            // This directory vanished (or cannot be read) while it was walked: what was counted of it stays.
        }
        return total;
    }

    private static bool IsLink(IFileSystem fs, string path)
    {
        try
        {
            return fs.File.GetAttributes(path).HasFlag(FileAttributes.ReparsePoint);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            return true; // gone meanwhile: nothing to count
        }
    }
}
