namespace TestDispatch.Engine.IO;

/// <summary>What an I/O exception says about its cause: whether it is one, and its errno (for disk_full and friends).</summary>
public static class IoErrors
{
    /// <summary>The errno behind an I/O exception: .NET's (and <see cref="Libc"/>'s) IOException carries it as HResult on Unix.</summary>
    public static int Errno(Exception e) => e switch
    {
        UnauthorizedAccessException { InnerException: IOException inner } when Errno(inner) is > 0 and var errno => errno,
        UnauthorizedAccessException => Libc.EACCES,
        FileNotFoundException or DirectoryNotFoundException => Libc.ENOENT,
        IOException io when io.HResult is > 0 and < 4096 => io.HResult,
        _ => 0,
    };

    public static bool IsIo(Exception e) => e is IOException or UnauthorizedAccessException;
}
