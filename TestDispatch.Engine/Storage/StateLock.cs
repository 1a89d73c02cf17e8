namespace TestDispatch.Engine.Storage;

/// <summary>
/// The lock held for every read-modify-write of the store: a flock on the state dir itself, then on state.lock. The
/// directory's comes first and decides: it cannot be unlinked from under its holder (a non-empty directory cannot be
/// removed), whereas a state.lock deleted by someone cleaning up "a stale lock" would let the next process lock a new file
/// while the holder is still inside its critical section. state.lock is still taken, in the same order everywhere, so a
/// process of an older build (which locks only the file) and tools that flock state.lock are kept out too.
/// </summary>
internal static class StateLock
{
    /// <exception cref="TimeoutException">Another process held it for longer than <paramref name="timeout"/>.</exception>
    public static IDisposable Acquire(IFileLocks locks, StatePaths paths, TimeSpan timeout)
    {
        IDisposable directory = locks.Acquire(paths.Root, timeout);
        try
        {
            return new Both(directory, locks.Acquire(paths.StateLock, timeout));
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    private sealed class Both(IDisposable directory, IDisposable file) : IDisposable
    {
        public void Dispose()
        {
            file.Dispose();
            directory.Dispose();
        }
    }
}
