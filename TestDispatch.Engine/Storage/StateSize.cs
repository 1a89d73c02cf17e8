using System.IO.Abstractions;

namespace TestDispatch.Engine.Storage;

/// <summary>How much disk a state dir takes, by part: what <c>doctor</c> reports so retention can be chosen knowingly.</summary>
public static class StateSize
{
    public static string Describe(IFileSystem fs, StatePaths paths)
    {
        long store = Sum(fs, paths.Root, SearchOption.TopDirectoryOnly);
        long history = fs.Directory.Exists(paths.HistoryDir) ? Sum(fs, paths.HistoryDir, SearchOption.AllDirectories) : 0;
        long runs = fs.Directory.Exists(paths.RunsDir) ? Sum(fs, paths.RunsDir, SearchOption.AllDirectories) : 0;
        return $"state dir {Bytes(store + history + runs)}: hot state {Bytes(store)}, history {Bytes(history)}, " +
            $"logs and artifacts {Bytes(runs)} ('testdispatch prune --older-than 90d' removes old runs)";
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
                catch (Exception e) when (StorageFailure.IsIo(e))
                {
                    // Gone meanwhile (a run's work dir removed): not counted.
                }
            }
        }
        catch (Exception e) when (StorageFailure.IsIo(e))
        {
        }
        return total;
    }

    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):0.0} KiB",
        _ => $"{bytes} B",
    };
}
