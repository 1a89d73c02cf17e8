using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TestDispatch.Engine.IO;

/// <summary>
/// The few libc calls .NET does not expose, or gets wrong: flock on an fd we own (FileStream's own implicit flock gets in
/// the way), fsync with its result (.NET's wrapper never reports a failed fsync), and statx for inodes and owners (see
/// docs/DISK.md). Failures come back as <see cref="IOException"/> with the errno as HResult, as .NET's own do.
/// </summary>
internal static partial class Libc
{
    public const int O_RDONLY = 0x0;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_DIRECTORY = 0x10000;
    public const int O_CLOEXEC = 0x80000;
    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EWOULDBLOCK = 11;
    public const int EACCES = 13;
    public const int EINVAL = 22;
    public const int EMFILE = 24;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int ENOLCK = 37;
    public const int EDQUOT = 122;

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
    /// Gives SIGPIPE back its default action in this process (.NET ignores it): a write to a pipe whose reader is gone
    /// kills it. Only for a process that writes to no pipe of its own children, which may close first.
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

    /// <summary>fsync(2): 0, or -1 with the errno in <see cref="Marshal.GetLastPInvokeError"/>. Never retried (fsyncgate).</summary>
    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    [LibraryImport("libc", EntryPoint = "getppid")]
    public static partial int Getppid();

    public static SafeFileHandle Open(string path, int flags, uint mode)
    {
        int fd;
        do
        {
            fd = OpenRaw(path, flags | O_CLOEXEC, mode);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);

        return fd < 0 ? throw Failure("open", path) : new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>The last libc call's errno as .NET reports I/O errors: an IOException carrying it as HResult.</summary>
    public static IOException Failure(string call, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call}({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    /// <summary>Which file an fd or a path is (device and inode), who owns it and its permission bits.</summary>
    public readonly record struct FileStatus(uint DeviceMajor, uint DeviceMinor, ulong Inode, uint Owner, UnixFileMode Mode)
    {
        public bool IsSameFile(FileStatus other) => (DeviceMajor, DeviceMinor, Inode) == (other.DeviceMajor, other.DeviceMinor, other.Inode);
    }

    /// <summary>statx(2) of a path (following symlinks); null if nothing is there.</summary>
    public static FileStatus? Stat(string path)
    {
        if (StatxPath(AT_FDCWD, path, 0, StatxWanted, out StatxBuffer buffer) == 0)
        {
            return buffer.Status;
        }
        return Marshal.GetLastPInvokeError() == ENOENT ? null : throw Failure("statx", path);
    }

    /// <summary>statx(2) of an open fd.</summary>
    public static FileStatus Stat(SafeFileHandle fd, string pathForErrors) =>
        StatxFd(fd, "", AT_EMPTY_PATH, StatxWanted, out StatxBuffer buffer) == 0 ? buffer.Status : throw Failure("statx", pathForErrors);

    /// <summary>The space of the file system holding <paramref name="path"/>: bytes free to this user, and in all; null if it cannot be told.</summary>
    public static (long Free, long Total)? Space(string path)
    {
        if (StatVfs(path, out StatVfsBuffer buffer) != 0)
        {
            return null;
        }
        return ((long)(buffer.Available * buffer.FragmentSize), (long)(buffer.Blocks * buffer.FragmentSize));
    }

    [LibraryImport("libc", EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatVfs(string path, out StatVfsBuffer buffer);

    /// <summary>struct statvfs on 64-bit Linux (glibc and musl): unsigned longs and 64-bit counts, then spare ints.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 112)]
    private struct StatVfsBuffer
    {
        [FieldOffset(8)] public ulong FragmentSize;
        [FieldOffset(16)] public ulong Blocks;
        [FieldOffset(32)] public ulong Available;
    }

    private const int AT_FDCWD = -100;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint StatxWanted = 0x2 | 0x8 | 0x100; // STATX_MODE | STATX_UID | STATX_INO

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxPath(int dirFd, string path, int flags, uint mask, out StatxBuffer buffer);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxFd(SafeFileHandle dirFd, string path, int flags, uint mask, out StatxBuffer buffer);

    /// <summary>struct statx: the same layout on every architecture, unlike struct stat.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(136)] public uint DeviceMajor;
        [FieldOffset(140)] public uint DeviceMinor;

        public readonly FileStatus Status => new(DeviceMajor, DeviceMinor, Inode, Uid, (UnixFileMode)(Mode & 0xFFF));
    }
}
