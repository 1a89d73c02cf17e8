using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Batches;

/// <summary>Waiting for a batch on a fake disk, with another store playing the agent at chosen moments.</summary>
[Trait("Category", "Unit")]
public sealed class BatchWaitTests
{
    private readonly FakeStateDir _dir = new();

    private static BatchEntry Entry(string name, string machine) => new()
    {
        Name = name,
        TestDir = $"/tests/{name}",
        TestDirHash = $"hash-{name}",
        Machine = machine,
        Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)),
    };

    /// <summary>Runs <paramref name="before"/> just before the <paramref name="at"/>-th take of state.lock.</summary>
    private sealed class HookedLocks(InMemoryFileLocks inner, int at, Action before) : IFileLocks
    {
        private int _count;

        public IDisposable? TryAcquire(string path) => inner.TryAcquire(path);

        public IDisposable? TryAcquireShared(string path) => inner.TryAcquireShared(path);

        public bool StillHolds(IDisposable held, string path) => inner.StillHolds(held, path);

        public IDisposable Acquire(string path, TimeSpan timeout)
        {
            // The store's lock is taken state dir first: the hook runs before the whole take, as another process would.
            if (path == FakeStateDir.Root && Interlocked.Increment(ref _count) == at)
            {
                before();
            }
            return inner.Acquire(path, timeout);
        }
    }

    // The waiter's first look at the batch takes state.lock twice: its counts (the 2nd take; the 1st loads the store),
    // then, as nothing of it runs, the batch with its items (the 3rd). The agent takes e1 just before either.
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task The_wait_does_not_call_a_batch_stuck_while_the_agent_takes_its_next_item(int at)
    {
        RunStore agent = _dir.Open();
        using IDisposable agentUp = _dir.Locks.Acquire(_dir.Paths.AgentLock, TimeSpan.FromSeconds(1));
        BatchRecord batch = agent.AddBatch("b", "/p", [Entry("e1", "m1"), Entry("e2", "gone")]);
        // Between two items nothing of the batch runs; the agent takes e1 between the waiter's looks at the batch.
        HookedLocks hooked = new(_dir.Locks, at, () => agent.TakeNext("m1", []));
        LabConfig config = new(FakeStateDir.Root, new RunDefaults(["./run.sh"], TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(3)),
            [new Machine { Name = "m1", Transport = TransportKind.Local }]);
        Lab lab = new(config, new RunStore(_dir.Fs, hooked, FakeStateDir.Root), _dir.Fs, _dir.Locks);
        using CancellationTokenSource patience = new(TimeSpan.FromSeconds(1));

        Exception? error = await Record.ExceptionAsync(() => lab.WaitBatchAsync(batch.Id, cancellationToken: patience.Token));

        Assert.Equal(1, agent.FindBatch(batch.Id).Batch.Counts.Running);
        Assert.True(error is OperationCanceledException, $"the wait ended with {error?.GetType().Name}: {error?.Message}"); // still waiting for e1
    }
}
