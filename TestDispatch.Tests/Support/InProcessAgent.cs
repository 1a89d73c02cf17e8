using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Transports;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Tests.Support;

/// <summary>
/// The real agent, run in the test's process so that some machines can be given a transport that fails (a rig whose
/// copy always fails), while the others run their tests for real through the local transport. It holds agent.lock, so
/// no other agent starts while it runs: give the harness a long AgentIdle.
/// </summary>
public sealed class InProcessAgent : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<int> _task;

    public InProcessAgent(Lab lab, IReadOnlySet<string> broken, string errorCode = ErrorCodes.CopyFailed)
    {
        LocalTransport local = new();
        BrokenTransport brokenTransport = new(errorCode);
        RunExecutor executor = new(lab.Store, lab.Config, m => broken.Contains(m.Name) ? brokenTransport : local, lab.Clock, TimedLog.Null);
        Agent agent = new(lab.Store, lab.Fleet, lab.Config, lab.FileSystem, lab.Locks, executor, TimedLog.Null, lab.Clock);
        _task = Task.Run(() => agent.RunAsync(_stop.Token));
        // Until it holds agent.lock, a client would start a real agent beside it.
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            using (IDisposable? probe = lab.Locks.TryAcquire(lab.Store.Paths.AgentLock))
            {
                if (probe is null)
                {
                    break;
                }
            }
            if (DateTime.UtcNow > deadline || _task.IsCompleted)
            {
                throw new TimeoutException("the in-process agent never took agent.lock");
            }
            Thread.Sleep(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _task.WaitAsync(TimeSpan.FromSeconds(30));
        _stop.Dispose();
    }
}

/// <summary>A machine where every launch fails before the test starts, as a rig whose disk or network is gone.</summary>
public sealed class BrokenTransport(string errorCode) : ITransport
{
    public Task<IReadOnlyList<string>> SweepAsync(IReadOnlyList<(RunFiles Files, string? RunDir)> runs, TimeSpan grace, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([.. runs.Select(r => r.Files.RunId)]);

    public Task<RunProcess?> FindAsync(RunFiles files, CancellationToken cancellationToken = default) => Task.FromResult<RunProcess?>(null);
    public Task<bool> FenceAsync(RunFiles files, CancellationToken cancellationToken = default) => Task.FromResult(true);
    public Task<LaunchResult> LaunchAsync(LaunchRequest request, CancellationToken cancellationToken = default)
    {
        return Task.FromResult(LaunchResult.Failed(errorCode, $"could not copy {request.TestDir} to {request.Machine.Name}: the rig's disk is gone (simulated)"));
    }

    public Task<WrapperState> LookAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task WaitAsync(RunFiles files, RunProcess process, TimeSpan most, CancellationToken cancellationToken = default) => throw new NotSupportedException();

    public Task StopAsync(RunFiles files, RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default) => Task.CompletedTask;

    public Task<ExecutionResult?> FinishAsync(RunFiles files, RunProcess process, Machine machine, CancellationToken cancellationToken = default) => Task.FromResult<ExecutionResult?>(null);

    public Task ForgetAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default) => Task.CompletedTask;
}
