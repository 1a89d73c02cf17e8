using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Errors;

/// <summary>
/// The one domain exception: carries a stable <see cref="ErrorCodes"/> string that the CLI maps to its
/// exit code and the TUI shows on its message line. <see cref="IsBadInput"/> says the user can fix it.
/// </summary>
public sealed class DispatchException(string errorCode, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public string ErrorCode { get; } = errorCode;

    public bool IsBadInput => ErrorCodes.IsBadInput(ErrorCode);

    /// <summary>
    /// Any failure as a coded error, for the faces' last resort (never a stack trace): itself for a DispatchException;
    /// disk_full or io_error for an I/O failure the engine did not name better; internal_error for anything else.
    /// </summary>
    public static DispatchException From(Exception e) => e switch
    {
        DispatchException coded => coded,
        _ when IoErrors.IsIo(e) && IoErrors.Errno(e) is Libc.ENOSPC or Libc.EDQUOT => new DispatchException(ErrorCodes.DiskFull,
            $"{e.Message.TrimEnd('.')}: no space left on that file system; free some space there, then run the command again.", inner: e),
        _ when IoErrors.IsIo(e) => new DispatchException(ErrorCodes.IoError,
            $"{e.Message.TrimEnd('.')}; check that file's disk and permissions, then run the command again.", inner: e),
        _ => new DispatchException(ErrorCodes.InternalError,
            $"unexpected {e.GetType().Name}: {e.Message} (a bug in testdispatch; please report it with this message and the command you ran)", inner: e),
    };
}
