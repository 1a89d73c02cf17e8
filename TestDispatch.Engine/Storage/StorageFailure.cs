using System.Runtime.InteropServices;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// Turns a failed write, fsync, rename or read in the state dir into the coded error a user sees (exit 4), naming the path
/// and what to do: disk_full when the file system is out of space or quota, state_unwritable for anything else that kept a
/// write from being made durable, state_unreadable for reads. The consequence says what became of the caller's change.
/// </summary>
internal static class StorageFailure
{
    public const string NothingRecorded = "Nothing was recorded.";

    /// <summary>Whether <paramref name="code"/> is one of the store's own failures (the instance then re-reads the disk).</summary>
    public static bool IsStorageCode(string code) => code is ErrorCodes.DiskFull or ErrorCodes.StateUnwritable or ErrorCodes.StateUnreadable or ErrorCodes.StateCorrupt;

    public static DispatchException Write(string path, string action, Exception e, string consequence) =>
        Coded(path, action, IoErrors.Errno(e), e.Message, consequence, e);

    public static DispatchException Fsync(string path, int errno, string consequence) =>
        Coded(path, "fsync", errno, Marshal.GetPInvokeErrorMessage(errno), consequence, null);

    public static DispatchException Read(string path, Exception e)
    {
        int errno = IoErrors.Errno(e);
        return errno is Libc.ENOSPC or Libc.EDQUOT
            ? Coded(path, "read", errno, e.Message, "Nothing was changed.", e)
            : new DispatchException(ErrorCodes.StateUnreadable,
                $"cannot read {path}: {Reason(errno, e.Message)}. Nothing was changed. Check its file system ('dmesg' shows disk errors) " +
                $"and that you own {Directory(path)}, then run the command again.", inner: e);
    }

    /// <summary>Taking state.lock (or agent.lock) failed for another reason than its being held.</summary>
    public static DispatchException Lock(string path, Exception e)
    {
        int errno = IoErrors.Errno(e);
        return errno == Libc.ENOLCK
            ? new DispatchException(ErrorCodes.StateUnwritable,
                $"cannot lock {path}: {Reason(errno, e.Message)}. {NothingRecorded} Its file system does not support flock(2): put the state dir " +
                "on a local disk (--state-dir, or StateDir in the configuration).", inner: e)
            : Coded(path, "lock", errno, e.Message, NothingRecorded, e);
    }

    private static DispatchException Coded(string path, string action, int errno, string detail, string consequence, Exception? inner) =>
        errno is Libc.ENOSPC or Libc.EDQUOT
            ? new DispatchException(ErrorCodes.DiskFull,
                $"no space left on the file system holding {path} ({action}: {Reason(errno, detail)}). {consequence} " +
                $"Free some space there ('df -h {Directory(path)}' shows it), then run the command again; no repair is needed.", inner: inner)
            : new DispatchException(ErrorCodes.StateUnwritable,
                $"cannot {action} {path}: {Reason(errno, detail)}. {consequence} Check that its file system is mounted read-write and " +
                $"healthy ('dmesg' shows disk errors) and that you own {Directory(path)}, then run the command again.", inner: inner);

    private static string Reason(int errno, string detail) => errno > 0 ? Marshal.GetPInvokeErrorMessage(errno) : detail;

    private static string Directory(string path) => Path.GetDirectoryName(path) is { Length: > 0 } dir ? dir : path;
}
