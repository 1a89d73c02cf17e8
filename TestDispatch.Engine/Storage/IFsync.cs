namespace TestDispatch.Engine.Storage;

/// <summary>
/// fsync(2), the one call that makes written bytes durable, with its result as libc gives it: 0, or the errno it failed
/// with. .NET's own <c>Flush(true)</c> and <c>RandomAccess.FlushToDisk</c> never report a failed fsync (docs/DISK.md),
/// so the store calls libc through this (<see cref="LibcFsync"/>); unit tests make it fail. Callers never retry a failed
/// fsync: the kernel may have dropped the dirty pages and cleared the error, so a second try's success proves nothing.
/// </summary>
public interface IFsync
{
    /// <summary>fsync of a file open in <paramref name="stream"/>, after flushing what the stream buffers.</summary>
    int File(Stream stream);

    /// <summary>fsync of a directory, so a rename or a new file in it survives a power cut.</summary>
    int Directory(string path);
}
