using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Storage;

[Trait("Category", "Integration")]
public sealed class FlockFileLocksTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FlockFileLocks _locks = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_held_lock_is_refused_to_a_second_open_until_released()
    {
        string path = _dir.Combine("state.lock");
        IDisposable held = _locks.TryAcquire(path)!;

        Assert.Null(_locks.TryAcquire(path));
        held.Dispose();

        using IDisposable? again = _locks.TryAcquire(path);
        Assert.NotNull(again);
    }

    [Fact]
    public async Task A_blocked_acquire_gets_the_lock_as_soon_as_the_holder_lets_go()
    {
        string path = _dir.Combine("state.lock");
        IDisposable held = _locks.Acquire(path, TimeSpan.FromSeconds(1));
        Task<IDisposable> waiting = Task.Run(() => _locks.Acquire(path, TimeSpan.FromSeconds(10)));
        await Eventually.True(() => waiting.Status == TaskStatus.Running, what: "the waiter to block");

        held.Dispose();
        using IDisposable acquired = await waiting;

        Assert.Null(_locks.TryAcquire(path));
    }

    [Fact]
    public async Task A_waiter_that_timed_out_never_keeps_the_lock_it_gets_later()
    {
        string path = _dir.Combine("state.lock");
        IDisposable held = _locks.Acquire(path, TimeSpan.FromSeconds(1));

        Assert.Throws<TimeoutException>(() => _locks.Acquire(path, TimeSpan.FromMilliseconds(100)));
        held.Dispose();

        IDisposable? free = await Eventually.Get(() => _locks.TryAcquire(path), what: "the abandoned waiter to let go");
        free.Dispose();
    }
}
