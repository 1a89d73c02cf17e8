using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// flock(2) on a file opened with libc open(2) (O_CLOEXEC, mode 0600), so children we spawn never
/// inherit it and the kernel releases it when the holder dies, even by SIGKILL. Waiting polls
/// LOCK_NB with a short, growing backoff: a blocked flock(2) cannot be given a timeout.
/// </summary>
public sealed class FlockFileLocks : IFileLocks
{
    public IDisposable? TryAcquire(string path)
    {
        SafeFileHandle fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT, 0b110_000_000);
        if (TryLock(fd, path))
        {
            return new Held(fd);
        }
        fd.Dispose();
        return null;
    }

    public IDisposable Acquire(string path, TimeSpan timeout)
    {
        SafeFileHandle fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT, 0b110_000_000);
        Stopwatch waited = Stopwatch.StartNew();
        int pauseMicros = 50;
        while (!TryLock(fd, path))
        {
            if (waited.Elapsed > timeout)
            {
                fd.Dispose();
                throw new TimeoutException($"lock {path} still held by another process after {timeout.TotalSeconds:0.#}s");
            }
            Thread.Sleep(TimeSpan.FromMicroseconds(pauseMicros + Random.Shared.Next(pauseMicros)));
            pauseMicros = Math.Min(pauseMicros * 2, 2_000);
        }
        return new Held(fd);
    }

    private static bool TryLock(SafeFileHandle fd, string path)
    {
        while (true)
        {
            if (Libc.Flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) == 0)
            {
                return true;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EWOULDBLOCK)
            {
                return false;
            }
            if (errno != Libc.EINTR)
            {
                throw new IOException($"flock({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    /// <summary>Closing the fd releases the flock; no explicit LOCK_UN needed.</summary>
    private sealed class Held(SafeFileHandle fd) : IDisposable
    {
        public void Dispose() => fd.Dispose();
    }
}
