using System.IO.Abstractions;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// fsync of a directory after a rename or file creation in it. No .NET API can do it (shared/DISK.md),
/// so on the real file system we call libc; on a fake file system there is nothing to make durable.
/// </summary>
internal static class Durability
{
    public static void SyncDirectory(IFileSystem fs, string path)
    {
        if (fs is FileSystem)
        {
            Libc.FsyncDirectory(path);
        }
    }
}
