using System.IO.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Transports;
using TestDispatch.Engine.Wrapper;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// A time limit is the test's own: it counts from the test's spawn, and a verdict is timeout only if the limit fired
/// while the test was alive. The agent's executor on the real disk with real processes, its transport slowed down
/// where copying and cleaning up take time on a real lab machine (a big test dir, a slow disk).
/// </summary>
[Trait("Category", "Integration")]
public sealed class TimeLimitTests : IDisposable
{
    private readonly TempDir _dir = new("testdispatch-limit-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_test_that_ends_inside_its_limit_passes_however_long_the_copy_before_and_the_cleanup_after_take()
    {
        Machine machine = new() { Name = "local-1", Transport = TransportKind.Local };
        LabConfig config = new(_dir.Combine("state"), new RunDefaults(["./run.sh"], TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)), [machine]);
        RunStore store = new(new FileSystem(), new FlockFileLocks(), config.StateDir);
        string test = _dir.Combine("test");
        Directory.CreateDirectory(test);
        File.WriteAllText(Path.Combine(test, "run.sh"), "#!/bin/sh\necho quick\n");
        File.SetUnixFileMode(Path.Combine(test, "run.sh"), (UnixFileMode)0b111_101_101);
        SlowTransport slow = new(new LocalTransport(), TimeSpan.FromSeconds(2));
        RunExecutor executor = new(store, config, _ => slow, TimeProvider.System, TimedLog.Null);
        RunRecord pending = Prepare(store, test);

        await executor.ExecuteAsync(pending, CancellationToken.None, CancellationToken.None);

        Run ended = store.Get(pending.Id).Run;
        Assert.Equal((RunStatus.Completed, 0, ""), (ended.Status, ended.ExitCode, ended.ErrorCode));
        Assert.True(ended.EndedAt - ended.StartedAt > TimeSpan.FromSeconds(4), "the copy and the cleanup really took longer than the limit");
    }

    private static RunRecord Prepare(RunStore store, string test)
    {
        Run run = store.Prepare(new PrepareRequest("local-1", test, "hash", new RunSpec(["./run.sh"], TimeSpan.FromSeconds(1)))).Run;
        return store.Get(run.Id);
    }

    /// <summary>The local transport, with <paramref name="delay"/> more before the launch (the copy) and before the finish (the cleanup).</summary>
    private sealed class SlowTransport(ITransport inner, TimeSpan delay) : ITransport
    {
        public Task<IReadOnlyList<string>> SweepAsync(IReadOnlyList<(RunFiles Files, string? RunDir)> runs, TimeSpan grace, CancellationToken cancellationToken = default) =>
            inner.SweepAsync(runs, grace, cancellationToken);

        public Task<RunProcess?> FindAsync(RunFiles files, CancellationToken cancellationToken = default) => inner.FindAsync(files, cancellationToken);
        public Task<bool> FenceAsync(RunFiles files, CancellationToken cancellationToken = default) => inner.FenceAsync(files, cancellationToken);
        public async Task<LaunchResult> LaunchAsync(LaunchRequest request, CancellationToken cancellationToken = default)
        {
            await Task.Delay(delay, cancellationToken);
            return await inner.LaunchAsync(request, cancellationToken);
        }

        public Task<WrapperState> LookAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default) => inner.LookAsync(files, process, cancellationToken);

        public Task WaitAsync(RunFiles files, RunProcess process, TimeSpan most, CancellationToken cancellationToken = default) =>
            inner.WaitAsync(files, process, most, cancellationToken);

        public Task StopAsync(RunFiles files, RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default) =>
            inner.StopAsync(files, process, reason, grace, cancellationToken);

        public async Task<ExecutionResult?> FinishAsync(RunFiles files, RunProcess process, Machine machine, CancellationToken cancellationToken = default)
        {
            await Task.Delay(delay, cancellationToken);
            return await inner.FinishAsync(files, process, machine, cancellationToken);
        }

        public Task ForgetAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default) => inner.ForgetAsync(files, process, cancellationToken);
    }
}
