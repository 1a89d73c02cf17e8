using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using Microsoft.Win32.SafeHandles;

namespace TestDispatch.Tests.Support;

/// <summary>
/// A <see cref="MockFileSystem"/> whose opens, writes, truncations, renames, deletes and directory creations pass through a
/// <see cref="FaultPlan"/>. A failing write first writes half its bytes, as a short write on a full disk does.
/// </summary>
public sealed class FaultyFileSystem : MockFileSystem
{
    // Null while MockFileSystem's constructor runs: it calls these properties before this class's constructor does.
    private readonly FaultyFile? _file;
    private readonly FaultyDirectory? _directory;
    private readonly FaultyStreams? _streams;

    public FaultyFileSystem(FaultPlan plan)
    {
        Plan = plan;
        _file = new FaultyFile(this, plan);
        _directory = new FaultyDirectory(this, plan, base.Directory.GetCurrentDirectory());
        _streams = new FaultyStreams(this, plan);
    }

    public FaultPlan Plan { get; }

    public override IFile File => _file ?? base.File;

    public override IDirectory Directory => _directory ?? base.Directory;

    public override IFileStreamFactory FileStream => _streams ?? base.FileStream;

    private sealed class FaultyFile(MockFileSystem fs, FaultPlan plan) : MockFile(fs)
    {
        public override void Move(string sourceFileName, string destFileName)
        {
            plan.HitOrThrow("rename", destFileName);
            base.Move(sourceFileName, destFileName);
        }

        public override void Move(string sourceFileName, string destFileName, bool overwrite)
        {
            plan.HitOrThrow("rename", destFileName);
            base.Move(sourceFileName, destFileName, overwrite);
        }

        public override void Delete(string path)
        {
            plan.HitOrThrow("delete", path);
            base.Delete(path);
        }
    }

    private sealed class FaultyDirectory(MockFileSystem fs, FaultPlan plan, string currentDirectory) : MockDirectory(fs, currentDirectory)
    {
        public override IDirectoryInfo CreateDirectory(string path)
        {
            if (!Exists(path))
            {
                plan.HitOrThrow("mkdir", path);
            }
            return base.CreateDirectory(path);
        }
    }

    private sealed class FaultyStreams(MockFileSystem fs, FaultPlan plan) : IFileStreamFactory
    {
        private readonly MockFileStreamFactory _inner = new(fs);

        public IFileSystem FileSystem => fs;

        public FileSystemStream New(string path, FileStreamOptions options) => Open(path, options.Access, () => _inner.New(path, options));

        public FileSystemStream New(string path, FileMode mode) => Open(path, mode == FileMode.Append ? FileAccess.Write : FileAccess.ReadWrite, () => _inner.New(path, mode));

        public FileSystemStream New(string path, FileMode mode, FileAccess access) => Open(path, access, () => _inner.New(path, mode, access));

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share) =>
            Open(path, access, () => _inner.New(path, mode, access, share));

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize) =>
            Open(path, access, () => _inner.New(path, mode, access, share, bufferSize));

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, bool useAsync) =>
            Open(path, access, () => _inner.New(path, mode, access, share, bufferSize, useAsync));

        public FileSystemStream New(string path, FileMode mode, FileAccess access, FileShare share, int bufferSize, FileOptions options) =>
            Open(path, access, () => _inner.New(path, mode, access, share, bufferSize, options));

        public FileSystemStream New(SafeFileHandle handle, FileAccess access) => throw new NotSupportedException();

        public FileSystemStream New(SafeFileHandle handle, FileAccess access, int bufferSize) => throw new NotSupportedException();

        public FileSystemStream New(SafeFileHandle handle, FileAccess access, int bufferSize, bool isAsync) => throw new NotSupportedException();

        public FileSystemStream Wrap(FileStream fileStream) => throw new NotSupportedException();

        private FaultyStream Open(string path, FileAccess access, Func<FileSystemStream> open)
        {
            plan.HitOrThrow(access.HasFlag(FileAccess.Write) ? "open-write" : "open-read", path);
            return new FaultyStream(open(), path, plan);
        }
    }

    private sealed class FaultyStream(FileSystemStream inner, string name, FaultPlan plan) : FileSystemStream(inner, name, isAsync: false)
    {
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (plan.Hit("write", Name) is var errno and not 0)
            {
                base.Write(buffer[..(buffer.Length / 2)]);
                throw FaultPlan.Error(errno, Name);
            }
            base.Write(buffer);
        }

        public override void WriteByte(byte value) => Write([value]);

        public override void SetLength(long value)
        {
            plan.HitOrThrow("truncate", Name);
            base.SetLength(value);
        }
    }
}
