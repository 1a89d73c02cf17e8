using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TestDispatch.Engine;

/// <summary>
/// The few libc calls .NET does not expose: flock on an fd we own (FileStream's own
/// implicit flock gets in the way, see shared/DISK.md) and fsync of a directory.
/// </summary>
internal static partial class Libc
{
    public const int O_RDONLY = 0x0;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_DIRECTORY = 0x10000;
    public const int O_CLOEXEC = 0x80000;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;
    public const int EINTR = 4;
    public const int EWOULDBLOCK = 11;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenRaw(string path, int flags, uint mode);

    public const int O_WRONLY = 0x1;
    public const int O_APPEND = 0x400;
    public const int ESRCH = 3;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public const int SIGPIPE = 13;
    private const nint SIG_DFL = 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "signal", SetLastError = true)]
    private static partial nint Signal(int signal, nint handler);

    /// <summary>
    /// Gives SIGPIPE back its default action in this process. .NET ignores it, and an ignored signal stays ignored in
    /// every program started from here (so a test's <c>yes | head</c> would complain of a broken pipe instead of ending
    /// quietly as in a shell). Only for a process that writes to no pipe or socket that may close: the agent.
    /// </summary>
    public static void RestoreDefaultSigpipe()
    {
        if (Signal(SIGPIPE, SIG_DFL) == -1)
        {
            throw new InvalidOperationException($"signal(SIGPIPE, SIG_DFL) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(SafeFileHandle oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(SafeFileHandle fd, int operation);

    public static SafeFileHandle Open(string path, int flags, uint mode)
    {
        int fd;
        do
        {
            fd = OpenRaw(path, flags | O_CLOEXEC, mode);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);

        return fd < 0
            ? throw new IOException($"open({path}) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}")
            : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>fsync(2) of a directory, so a rename or a new file in it survives a power cut.</summary>
    public static void FsyncDirectory(string path)
    {
        using SafeFileHandle dir = Open(path, O_RDONLY | O_DIRECTORY, 0);
        RandomAccess.FlushToDisk(dir);
    }
}
