namespace TestDispatch.Engine.Storage;

/// <summary>
/// fsync of a file or a directory, checked: a failure becomes the coded error (disk_full, state_unwritable) naming the
/// path and what it means for the caller, and the write it was for must be treated as not acknowledged.
/// </summary>
internal sealed class Durability(IFsync fsync)
{
    public void Sync(Stream stream, string path, string consequence)
    {
        int errno = Fsync(stream);
        if (errno != 0)
        {
            throw StorageFailure.Fsync(path, errno, consequence);
        }
    }

    /// <summary>fsync as libc reports it (0 or errno), for a caller that handles the failure itself.</summary>
    public int Fsync(Stream stream) => fsync.File(stream);

    /// <summary>After a rename or a file creation in <paramref name="directory"/>: makes the new name survive a power cut.</summary>
    public void SyncDirectory(string directory, string consequence)
    {
        int errno = fsync.Directory(directory);
        if (errno != 0)
        {
            throw StorageFailure.Fsync(directory, errno, consequence);
        }
    }
}
