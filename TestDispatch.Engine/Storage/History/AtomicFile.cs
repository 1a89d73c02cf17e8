using System.IO.Abstractions;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// A whole file written so a reader sees it complete or not at all (docs/DISK.md): into a temp beside it, fsync'd (checked),
/// renamed over. The caller fsyncs the directory once after all its renames. On failure the temp is removed and the
/// target is untouched.
/// </summary>
internal static class AtomicFile
{
    public static void Write(IFileSystem fs, Durability durability, string path, Action<Stream> write, string consequence)
    {
        string temp = path + ".tmp";
        try
        {
            using (Stream stream = fs.FileStream.New(temp, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                Share = FileShare.ReadWrite,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                BufferSize = 1 << 16,
            }))
            {
                write(stream);
                stream.Flush();
                durability.Sync(stream, temp, consequence);
            }
            fs.File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is DispatchException || IoErrors.IsIo(e))
        {
            TryDelete(fs, temp);
            throw e as DispatchException ?? StorageFailure.Write(path, "write", e, consequence);
        }
    }

    public static void TryDelete(IFileSystem fs, string path)
    {
        try
        {
            fs.File.Delete(path);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            // Left behind it is harmless: nothing names it, and the next history write tries again.
        }
    }
}
