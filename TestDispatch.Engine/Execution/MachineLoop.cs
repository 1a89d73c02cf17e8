using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// One machine's loop in the agent: take its next pending run, or else the next batch item waiting for it (oldest
/// batch first), execute it, repeat until it has neither. Like a per-session runtime loop: one run at a time per
/// machine, and a failed run never blocks the next.
/// </summary>
internal sealed class MachineLoop
{
    private readonly Lock _gate = new();
    private string? _currentRun;
    private CancellationTokenSource? _currentCancel;

    private MachineLoop()
    {
    }

    public Task Task { get; private set; } = Task.CompletedTask;

    /// <param name="tags">The machine's tags, for batch items; null when it takes none (it cannot run tests, or it left the
    /// configuration): then it only ends the runs dispatched to it.</param>
    public static MachineLoop Start(string machine, IReadOnlyList<string>? tags, RunStore store, RunExecutor executor, CancellationToken agentStopping)
    {
        MachineLoop loop = new();
        loop.Task = Task.Run(() => loop.RunAsync(machine, tags, store, executor, agentStopping), CancellationToken.None);
        return loop;
    }

    /// <summary>Stops the run if it is the one this loop is executing now.</summary>
    public void Cancel(string runId)
    {
        lock (_gate)
        {
            if (_currentRun == runId)
            {
                _currentCancel?.Cancel();
            }
        }
    }

    private async Task RunAsync(string machine, IReadOnlyList<string>? tags, RunStore store, RunExecutor executor, CancellationToken agentStopping)
    {
        while (!agentStopping.IsCancellationRequested && store.TakeNext(machine, tags) is { } next)
        {
            using CancellationTokenSource cancel = CancellationTokenSource.CreateLinkedTokenSource(agentStopping);
            lock (_gate)
            {
                (_currentRun, _currentCancel) = (next.Id, cancel);
            }
            if (next.CancelRequestedAt is not null)
            {
                cancel.Cancel();
            }
            await executor.ExecuteAsync(next, cancel.Token);
            lock (_gate)
            {
                (_currentRun, _currentCancel) = (null, null);
            }
        }
    }
}
