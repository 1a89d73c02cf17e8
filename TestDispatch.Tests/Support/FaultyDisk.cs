using TestDispatch.Engine.Storage;

namespace TestDispatch.Tests.Support;

/// <summary>
/// A state dir on a fake disk where chosen steps fail: the file system, fsync (failing as libc reports it: an errno) and
/// the state lock all pass through one <see cref="FaultPlan"/>. For unit tests of what the store does when the disk fails.
/// </summary>
public sealed class FaultyDisk
{
    public const string Root = FakeStateDir.Root;

    public FaultyDisk()
    {
        Fs = new FaultyFileSystem(Plan);
        Fsync = new FaultyFsync(Plan);
        Locks = new FaultyLocks(new InMemoryFileLocks(), Plan);
    }

    public FaultPlan Plan { get; } = new();

    public FaultyFileSystem Fs { get; }

    public IFsync Fsync { get; }

    public IFileLocks Locks { get; }

    public StatePaths Paths { get; } = new(Root);

    public RunStore Open(StoreOptions? options = null) => new(Fs, Locks, Root, options: options, fsync: Fsync);

    private sealed class FaultyFsync(FaultPlan plan) : IFsync
    {
        public int File(Stream stream)
        {
            stream.Flush();
            return plan.Hit("fsync", (stream as System.IO.Abstractions.FileSystemStream)?.Name ?? "?");
        }

        public int Directory(string path) => plan.Hit("fsync-dir", path);
    }

    private sealed class FaultyLocks(InMemoryFileLocks inner, FaultPlan plan) : IFileLocks
    {
        public IDisposable? TryAcquire(string path)
        {
            plan.HitOrThrow("lock", path);
            return inner.TryAcquire(path);
        }

        public IDisposable? TryAcquireShared(string path)
        {
            plan.HitOrThrow("lock", path);
            return inner.TryAcquireShared(path);
        }

        public bool StillHolds(IDisposable held, string path) => inner.StillHolds(held, path);

        public IDisposable Acquire(string path, TimeSpan timeout)
        {
            plan.HitOrThrow("lock", path);
            return inner.Acquire(path, timeout);
        }

        public bool IsHeld(string path) => inner.IsHeld(path);
    }
}
