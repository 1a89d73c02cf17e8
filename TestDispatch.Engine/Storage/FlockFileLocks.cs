using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// flock(2) on a file opened with libc open(2) (O_CLOEXEC, mode 0600), so children we spawn never
/// inherit it and the kernel releases it when the holder dies, even by SIGKILL. A contended acquire
/// blocks in the kernel (woken the moment the holder lets go) on a thread of its own, so it can be
/// given up on after a timeout: polling with LOCK_NB starves waiters behind a busy holder.
/// A lock counts only on the file that is at the path when it is granted: if the lock file was deleted
/// or replaced meanwhile (someone cleaning up "stale" lock files), the waiters on the old inode would
/// otherwise go on excluding only each other while new processes lock the new one.
/// </summary>
public sealed class FlockFileLocks : IFileLocks
{
    public IDisposable? TryAcquire(string path) => TryAcquire(path, Libc.LOCK_EX);

    public IDisposable? TryAcquireShared(string path) => TryAcquire(path, Libc.LOCK_SH);

    private static IDisposable? TryAcquire(string path, int mode)
    {
        while (true)
        {
            SafeFileHandle fd = OpenLockFile(path);
            if (!Flock(fd, path, mode | Libc.LOCK_NB))
            {
                fd.Dispose();
                return null;
            }
            if (KeptIfStillAt(fd, path))
            {
                return new Held(fd);
            }
        }
    }

    public IDisposable Acquire(string path, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (TryAcquire(path) is { } held)
            {
                return held;
            }
            Waiter waiter = new(OpenLockFile(path), path);
            Thread thread = new(waiter.Block) { IsBackground = true, Name = "flock " + Path.GetFileName(path) };
            thread.Start();
            TimeSpan left = deadline - DateTime.UtcNow;
            if (!waiter.Wait(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                throw new TimeoutException($"lock {path} still held by another process after {timeout.TotalSeconds:0.#}s");
            }
            if (KeptIfStillAt(waiter.Fd, path))
            {
                return new Held(waiter.Fd);
            }
        }
    }

    /// <summary>
    /// Whether the locked fd is still the file at <paramref name="path"/> (same device and inode); if not (the file was
    /// removed or replaced while we waited), lets go of it so the caller locks the one there now.
    /// </summary>
    private static bool KeptIfStillAt(SafeFileHandle fd, string path)
    {
        try
        {
            if (Libc.Stat(path) is { } atPath && atPath.IsSameFile(Libc.Stat(fd, path)))
            {
                return true;
            }
        }
        catch
        {
            fd.Dispose();
            throw;
        }
        fd.Dispose();
        return false;
    }

    /// <summary>
    /// Opens (making it 0600 if need be) the lock file. On a read-only mount it is opened for reading: flock needs no
    /// write access, so the store can still be read there, while any write fails on its own file. A directory (the state
    /// dir itself) is opened for reading: it cannot be unlinked while it holds anything, so its lock cannot be replaced from
    /// under its holder as a file's can.
    /// </summary>
    private static SafeFileHandle OpenLockFile(string path)
    {
        if (Directory.Exists(path))
        {
            return Libc.Open(path, Libc.O_RDONLY | Libc.O_DIRECTORY, 0);
        }
        try
        {
            return Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT, 0b110_000_000);
        }
        catch (IOException e) when (e.HResult == Libc.EROFS)
        {
            return Libc.Open(path, Libc.O_RDONLY, 0);
        }
    }

    /// <summary>Returns false only for EWOULDBLOCK (held elsewhere, with LOCK_NB); retries EINTR.</summary>
    private static bool Flock(SafeFileHandle fd, string path, int operation)
    {
        while (Libc.Flock(fd, operation) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EWOULDBLOCK)
            {
                return false;
            }
            if (errno != Libc.EINTR)
            {
                throw new IOException($"flock({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }
        return true;
    }

    /// <summary>
    /// A blocking flock on its own fd. If the caller gives up first, whichever of the two comes second
    /// (the caller abandoning, or the thread getting the lock) closes the fd, which releases the lock.
    /// </summary>
    private sealed class Waiter(SafeFileHandle fd, string path)
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _gate = new();
        private bool _abandoned;
        private Exception? _error;

        public SafeFileHandle Fd => fd;

        public void Block()
        {
            try
            {
                Flock(fd, path, Libc.LOCK_EX);
            }
            catch (IOException e)
            {
                _error = e;
            }
            lock (_gate)
            {
                if (_abandoned)
                {
                    fd.Dispose();
                }
                _done.SetResult();
            }
        }

        public bool Wait(TimeSpan timeout)
        {
            _done.Task.Wait(timeout);
            lock (_gate)
            {
                if (!_done.Task.IsCompleted)
                {
                    _abandoned = true;
                    return false;
                }
            }
            if (_error is not null)
            {
                fd.Dispose();
                throw _error;
            }
            return true;
        }
    }

    /// <summary>Closing the fd releases the flock; no explicit LOCK_UN needed.</summary>
    public bool StillHolds(IDisposable held, string path) =>
        held is Held { Fd: { IsClosed: false } fd } && Libc.Stat(path) is { } atPath && atPath.IsSameFile(Libc.Stat(fd, path));

    private sealed class Held(SafeFileHandle fd) : IDisposable
    {
        public SafeFileHandle Fd => fd;

        public void Dispose() => fd.Dispose();
    }
}
