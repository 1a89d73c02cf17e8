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

    private static long Sum(IFileSystem fs, string directory, SearchOption depth)
    {
        long total = 0;
        try
        {
            foreach (string file in fs.Directory.EnumerateFiles(directory, "*", new EnumerationOptions
            {
                RecurseSubdirectories = depth == SearchOption.AllDirectories,
                IgnoreInaccessible = true,
                AttributesToSkip = FileAttributes.ReparsePoint,
            }))
            {
                try
                {
                    total += fs.FileInfo.New(file).Length;
                }
                catch (Exception e) when (IoErrors.IsIo(e))
                {
                    // Gone meanwhile (a run's work dir removed): not counted.
                }
            }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
        }
        return total;
    }
}
