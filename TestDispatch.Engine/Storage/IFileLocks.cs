namespace TestDispatch.Engine.Storage;

/// <summary>
/// Cross-process locks on named files, exclusive or shared. The real one is flock(2) (<see cref="FlockFileLocks"/>),
/// released by the kernel when the holder dies; unit tests use <see cref="InMemoryFileLocks"/>.
/// Disposing the returned handle releases the lock.
/// </summary>
public interface IFileLocks
{
    /// <summary>Takes the lock if it is free right now; null if another holder has it.</summary>
    IDisposable? TryAcquire(string path);

    /// <summary>Takes a shared hold if no one has the lock exclusively right now (any number may share it); null if one does.</summary>
    IDisposable? TryAcquireShared(string path);

    /// <summary>Waits up to <paramref name="timeout"/> for the lock; throws <see cref="TimeoutException"/> after.</summary>
    IDisposable Acquire(string path, TimeSpan timeout);

    /// <summary>
    /// Whether <paramref name="held"/> (from this object) still locks the file at <paramref name="path"/>: false once that
    /// file was removed or replaced (or its directory is gone), when the next process to look finds a lock nobody holds.
    /// </summary>
    bool StillHolds(IDisposable held, string path);
}
