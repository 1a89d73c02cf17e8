using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// Process-local stand-in for flock, for unit tests on MockFileSystem. Not reentrant, like flock on separate opens.
/// Shared holds keep only <see cref="TryAcquire"/> off (the store never waits for a lock others may share).
/// </summary>
public sealed class InMemoryFileLocks : IFileLocks
{
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new();
    private readonly ConcurrentDictionary<string, StrongBox<int>> _shared = new();

    public IDisposable? TryAcquire(string path)
    {
        SemaphoreSlim gate = Gate(path);
        StrongBox<int> sharers = Sharers(path);
        lock (sharers)
        {
            return sharers.Value == 0 && gate.Wait(0) ? new Releaser(gate) : null;
        }
    }

    public IDisposable? TryAcquireShared(string path)
    {
        SemaphoreSlim gate = Gate(path);
        StrongBox<int> sharers = Sharers(path);
        lock (sharers)
        {
            if (gate.CurrentCount == 0)
            {
                return null;
            }
            sharers.Value++;
        }
        return new SharedHold(sharers);
    }

    public IDisposable Acquire(string path, TimeSpan timeout)
    {
        SemaphoreSlim gate = Gate(path);
        return gate.Wait(timeout) ? new Releaser(gate) : throw new TimeoutException($"lock {path} not acquired within {timeout}");
    }

    /// <summary>True while someone holds the lock on <paramref name="path"/>.</summary>
    public bool IsHeld(string path) => Gate(path).CurrentCount == 0;

    public bool StillHolds(IDisposable held, string path) => held is Releaser { IsReleased: false };

    private SemaphoreSlim Gate(string path) => _locks.GetOrAdd(path, _ => new SemaphoreSlim(1, 1));

    private StrongBox<int> Sharers(string path) => _shared.GetOrAdd(path, _ => new StrongBox<int>());

    private sealed class SharedHold(StrongBox<int> sharers) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                lock (sharers)
                {
                    sharers.Value--;
                }
            }
        }
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public bool IsReleased => Volatile.Read(ref _released) == 1;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
