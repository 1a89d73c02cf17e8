using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// One machine's loop in the agent: take its active run (one an earlier agent followed, or a pending one), or else
/// the next batch item waiting for it (oldest batch first), execute it, repeat until it has none. Like a per-session
/// runtime loop: one run at a time per machine, a failed run never blocks the next, and a failing store only slows the
/// loop down, never ends it.
/// </summary>
internal sealed class MachineLoop
{
    private static readonly TimeSpan AfterTrouble = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private string? _currentRun;
    private CancellationTokenSource? _currentCancel;

    private MachineLoop()
    {
    }

    public Task Task { get; private set; } = Task.CompletedTask;

    /// <param name="batchTarget">The machine as configured, for batch items; null when it takes none (it cannot run tests,
    /// or it is not in the agent's configuration): then it only executes the runs dispatched to it.</param>
    public static MachineLoop Start(string machine, Machine? batchTarget, RunStore store, Fleet fleet, RunExecutor executor, TimedLog log, CancellationToken agentStopping)
    {
        MachineLoop loop = new();
        loop.Task = Task.Run(() => loop.RunAsync(machine, batchTarget, store, fleet, executor, log, agentStopping), CancellationToken.None);
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

    /// <summary>The verdict counts for the machine's health; failing to record it is logged, never allowed to stop the loop.</summary>
    private static void Record(Fleet fleet, RunRecord ended, TimedLog log)
    {
        try
        {
            fleet.Record(ended);
        }
        catch (Exception e) when (e is DispatchException or IOException or UnauthorizedAccessException)
        {
            log.Write($"machine {ended.Run.Machine}: could not record run {ended.Id}'s verdict for its health: {e.Message}");
        }
    }

    private async Task RunAsync(string machine, Machine? batchTarget, RunStore store, Fleet fleet, RunExecutor executor, TimedLog log, CancellationToken agentStopping)
    {
        while (!agentStopping.IsCancellationRequested)
        {
            string? trouble = null;
            try
            {
                // Read afresh before each take: a drain, or health holding the machine, counts from its next run on.
                if (store.TakeNext(machine, batchTarget?.Tags, batchTarget, fleet.Placement()) is not { } next)
                {
                    return;
                }
                using CancellationTokenSource cancel = new();
                lock (_gate)
                {
                    (_currentRun, _currentCancel) = (next.Id, cancel);
                }
                if (next.CancelRequestedAt is not null)
                {
                    await cancel.CancelAsync();
                }
                try
                {
                    // It may still run there: the machine takes nothing new until the agent has seen it stopped.
                    await executor.ExecuteAsync(next, cancel.Token, agentStopping,
                        (process, why) => fleet.Abandon(machine, next.Id, process.RunDir, why), (holder, run) =>
                        {
                            fleet.HeldElsewhere(machine, holder);
                            return fleet.FreeElsewhere(run);
                        });
                }
                finally
                {
                    // Before the token source is disposed: a cancel arriving later must not reach it.
                    lock (_gate)
                    {
                        (_currentRun, _currentCancel) = (null, null);
                    }
                }
                RunRecord after = store.Get(next.Id);
                // A run that left the machine to its holder keeps it known held: no entry is sent back to it meanwhile.
                bool left = after.Run is { Status: RunStatus.Interrupted, ErrorCode: ErrorCodes.MachineBusyElsewhere };
                if (!left && fleet.Ledger.Read()[machine].HeldBy is not null)
                {
                    fleet.HeldElsewhere(machine, null);
                }
                if (left)
                {
                    log.Write($"machine {machine}: held elsewhere; run {next.Id}'s batch entry waits for another machine of its tags");
                }
                else if (after.Run.Status.IsTerminal())
                {
                    Record(fleet, after, log);
                }
                else if (!agentStopping.IsCancellationRequested)
                {
                    trouble = $"run {next.Id} is still {after.Run.Status.ToWord()} after the agent followed it to its end";
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !agentStopping.IsCancellationRequested)
            {
                trouble = e.Message;
            }
            if (trouble is not null)
            {
                log.Write($"machine {machine}: {trouble}; trying again in {AfterTrouble.TotalSeconds:0}s");
                try
                {
                    await Task.Delay(AfterTrouble, agentStopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
