using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// One machine's loop in the agent: take its next pending run, execute it, repeat until it has none.
/// Like a per-session runtime loop: one run at a time per machine, and a failed run never blocks the next.
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

    public static MachineLoop Start(string machine, RunStore store, RunExecutor executor, CancellationToken agentStopping)
    {
        MachineLoop loop = new();
        loop.Task = Task.Run(() => loop.RunAsync(machine, store, executor, agentStopping), CancellationToken.None);
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

    private async Task RunAsync(string machine, RunStore store, RunExecutor executor, CancellationToken agentStopping)
    {
        while (!agentStopping.IsCancellationRequested &&
               store.ActiveOn(machine) is { Run.Status: RunStatus.Pending } next)
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
            await executor.ExecuteAsync(next.Id, cancel.Token);
            lock (_gate)
            {
                (_currentRun, _currentCancel) = (null, null);
            }
        }
    }
}
