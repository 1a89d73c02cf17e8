namespace TestDispatch.Engine.IO;

/// <summary>
/// Whether a file system is (nearly) full: what tells the controller's full disk from a test's or a machine's failure, and
/// what doctor warns about before it happens.
/// </summary>
public static class DiskSpace
{
    /// <summary>Below this much free, a run cannot even write its wrapper's small files: the disk is full for our purposes.</summary>
    public const long NearlyFull = 256 << 10;

    /// <summary>Whether the file system holding <paramref name="path"/> (or its nearest existing parent) has almost no room left.</summary>
    public static bool IsFull(string path) => FreeAt(path) is { } free && free < NearlyFull;

    /// <summary>Bytes free to this user where <paramref name="path"/> is (its nearest existing parent), or null if that cannot be told.</summary>
    public static long? FreeAt(string path) => Libc.Space(Existing(path))?.Free;

    /// <summary>Free and total bytes where <paramref name="path"/> is.</summary>
    public static (long Free, long Total)? Of(string path) => Libc.Space(Existing(path));

    private static string Existing(string path)
    {
        string? at = path;
        while (at is not null && !Directory.Exists(at) && !File.Exists(at))
        {
            at = Path.GetDirectoryName(at);
        }
        return at ?? "/";
    }
}
