using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// flock(2) on a file opened with libc open(2) (O_CLOEXEC, mode 0600), so children we spawn never
/// inherit it and the kernel releases it when the holder dies, even by SIGKILL. A contended acquire
/// blocks in the kernel (woken the moment the holder lets go) on a thread of its own, so it can be
/// given up on after a timeout: polling with LOCK_NB starves waiters behind a busy holder.
/// </summary>
public sealed class FlockFileLocks : IFileLocks
{
    public IDisposable? TryAcquire(string path)
    {
        SafeFileHandle fd = OpenLockFile(path);
        if (Flock(fd, path, Libc.LOCK_EX | Libc.LOCK_NB))
        {
            return new Held(fd);
        }
        fd.Dispose();
        return null;
    }

    public IDisposable Acquire(string path, TimeSpan timeout)
    {
        if (TryAcquire(path) is { } held)
        {
            return held;
        }
        Waiter waiter = new(OpenLockFile(path), path);
        Thread thread = new(waiter.Block) { IsBackground = true, Name = "flock " + Path.GetFileName(path) };
        thread.Start();
        return waiter.Wait(timeout)
            ? new Held(waiter.Fd)
            : throw new TimeoutException($"lock {path} still held by another process after {timeout.TotalSeconds:0.#}s");
    }

    private static SafeFileHandle OpenLockFile(string path) => Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT, 0b110_000_000);

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
    private sealed class Held(SafeFileHandle fd) : IDisposable
    {
        public void Dispose() => fd.Dispose();
    }
}
