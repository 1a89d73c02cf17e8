using System.IO.Abstractions;

namespace TestDispatch.Engine.Storage;

/// <summary>Creates a state dir private to its user (0700), as DESIGN §5 asks.</summary>
public static class StateDirectory
{
    public static void Ensure(IFileSystem fs, string path)
    {
        try
        {
            if (fs.Directory.Exists(path))
            {
                return;
            }
            fs.Directory.CreateDirectory(path);
            fs.File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (StorageFailure.IsIo(e))
        {
            throw StorageFailure.Write(path, "create the state dir", e, StorageFailure.NothingRecorded);
        }
    }
}
