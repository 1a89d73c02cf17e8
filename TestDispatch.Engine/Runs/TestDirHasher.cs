using System.Buffers;
using System.Buffers.Binary;
using System.IO.Abstractions;
using System.Security.Cryptography;
using System.Text;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Engine.Runs;

/// <summary>
/// SHA-256 of a test directory's content (docs/DESIGN.md §2): every entry's relative path (sorted, '/'-separated),
/// kind, permission bits, and bytes (or a symlink's target, never followed). The same content gives the
/// same hash wherever the folder lives and whatever order its files were made in. Files are streamed.
/// </summary>
public static class TestDirHasher
{
    public static string Compute(IFileSystem fs, string directory)
    {
        string root = fs.Path.GetFullPath(directory);
        if (!fs.Directory.Exists(root))
        {
            throw new DispatchException(ErrorCodes.TestDirNotFound,
                $"test directory '{directory}' does not exist (looked at {root}); give the path of a folder holding a test");
        }

        List<(string Relative, IFileSystemInfo Info)> entries = [];
        Collect(fs, root, "", entries);
        entries.Sort((a, b) => string.CompareOrdinal(a.Relative, b.Relative));

        using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            foreach ((string relative, IFileSystemInfo info) in entries)
            {
                if (info.LinkTarget is { } target)
                {
                    AppendHeader(hash, 'l', relative, 0, 0);
                    hash.AppendData(Encoding.UTF8.GetBytes(target));
                }
                else if (info is IDirectoryInfo)
                {
                    AppendHeader(hash, 'd', relative, Mode(fs, info.FullName), 0);
                }
                else
                {
                    using Stream stream = fs.File.OpenRead(info.FullName);
                    AppendHeader(hash, 'f', relative, Mode(fs, info.FullName), stream.Length);
                    int read;
                    while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void Collect(IFileSystem fs, string directory, string prefix, List<(string, IFileSystemInfo)> entries)
    {
        foreach (IFileSystemInfo info in fs.DirectoryInfo.New(directory).EnumerateFileSystemInfos())
        {
            string relative = prefix + info.Name;
            entries.Add((relative, info));
            if (info is IDirectoryInfo && info.LinkTarget is null)
            {
                Collect(fs, info.FullName, relative + "/", entries);
            }
        }
    }

    private static int Mode(IFileSystem fs, string path) =>
        (int)(fs.File.GetUnixFileMode(path) & (UnixFileMode)0b111_111_111);

    /// <summary>Kind, path, mode and size, length-prefixed so no two different trees feed the same bytes.</summary>
    private static void AppendHeader(IncrementalHash hash, char kind, string relative, int mode, long size)
    {
        byte[] path = Encoding.UTF8.GetBytes(relative);
        Span<byte> header = stackalloc byte[1 + 4 + 4 + 8];
        header[0] = (byte)kind;
        BinaryPrimitives.WriteInt32LittleEndian(header[1..], path.Length);
        BinaryPrimitives.WriteInt32LittleEndian(header[5..], mode);
        BinaryPrimitives.WriteInt64LittleEndian(header[9..], size);
        hash.AppendData(header);
        hash.AppendData(path);
    }
}
