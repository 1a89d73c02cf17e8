using System.IO.Abstractions;
using Microsoft.Win32.SafeHandles;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>fsync(2) through libc on the real disk, its -1 and errno checked; a fake disk has nothing to make durable.</summary>
public sealed class LibcFsync : IFsync
{
    public static readonly LibcFsync Instance = new();

    /// <summary>The fsync to use with <paramref name="fs"/>: libc's on the real file system, none on a fake one.</summary>
    public static IFsync For(IFileSystem fs) => fs is FileSystem ? Instance : Nothing.Instance;

    public int File(Stream stream)
    {
        stream.Flush();
        FileStream file = stream switch
        {
            FileStream f => f,
            FileSystemStream s => (FileStream)s,
            _ => throw new ArgumentException($"{stream.GetType().Name} is not a file on disk", nameof(stream)),
        };
        return Libc.Fsync(file.SafeFileHandle) == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
    }

    public int Directory(string path)
    {
        SafeFileHandle dir;
        try
        {
            dir = Libc.Open(path, Libc.O_RDONLY | Libc.O_DIRECTORY, 0);
        }
        catch (IOException e)
        {
            return e.HResult;
        }
        using (dir)
        {
            return Libc.Fsync(dir) == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        }
    }

    private sealed class Nothing : IFsync
    {
        public static readonly Nothing Instance = new();

        public int File(Stream stream)
        {
            stream.Flush();
            return 0;
        }

        public int Directory(string path) => 0;
    }
}
