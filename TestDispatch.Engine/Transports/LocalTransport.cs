using CliWrap;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Transports;

/// <summary>
/// Runs a test on this host: copies the test dir to the run's private work dir (as cp -a would: modes,
/// times, symlinks), then starts the command through setsid(1) so the test leads a new session and process group that
/// cancel and timeout can kill whole. stdout and stderr go to the log as they arrive.
/// </summary>
public sealed class LocalTransport : ITransport
{
    /// <summary>
    /// Held while starting a test, and by the copy while it writes an executable file: a child forked while another
    /// machine's copy has its run.sh open for writing keeps that descriptor until it execs, and that run.sh's own exec
    /// then fails with "Text file busy". Never held across a wait.
    /// </summary>
    private static readonly Lock ForkGate = new();

    public async Task<ExecutionResult> ExecuteAsync(ExecutionRequest request, CancellationToken stop)
    {
        Directory.CreateDirectory(request.WorkDir);
        try
        {
            TestDirCopier.Copy(request.Run.TestDir, request.WorkDir, ForkGate);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ExecutionResult.Failure(ErrorCodes.CopyFailed, $"could not copy {request.Run.TestDir} to {request.WorkDir}: {e.Message}");
        }


        if (CommandResolver.Check(request.Command, request.WorkDir, request.Environment) is { } problem)
        {
            return ExecutionResult.Failure(ErrorCodes.SpawnFailed, problem);
        }

        // Both pipes write into one log; Synchronized keeps their chunks whole, in arrival order.
        Stream log = Stream.Synchronized(request.Log);
        // setsid makes the test a session and process group leader. (SIGPIPE's default action is restored by the agent
        // for itself, so the test inherits it: see Agent.PrepareProcess.)
        Command command = Cli.Wrap("setsid")
            .WithArguments(["--", .. request.Command])
            .WithWorkingDirectory(request.WorkDir)
            .WithEnvironmentVariables(request.Environment.ToDictionary(e => e.Key, string? (e) => e.Value))
            .WithStandardInputPipe(PipeSource.Null)
            .WithStandardOutputPipe(PipeTarget.ToStream(log))
            .WithStandardErrorPipe(PipeTarget.ToStream(log))
            .WithValidation(CommandResultValidation.None);

        CommandTask<CommandResult> task;
        try
        {
            lock (ForkGate)
            {
                task = command.ExecuteAsync(CancellationToken.None);
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return ExecutionResult.Failure(ErrorCodes.SpawnFailed, $"could not start {request.Command[0]}: {e.Message}");
        }

        RunProcess process = new(task.ProcessId, ProcessGroups.StartTicks(task.ProcessId) ?? 0, Environment.ProcessId);
        // Recording the process for recovery takes the state lock: let it overlap the test instead of delaying its
        // start. Either way the group exists unrecorded from the spawn until the record is written; it is awaited
        // before returning, so it always lands before the verdict.
        Task recorded = Task.Run(() => request.OnStarted(process), CancellationToken.None);
        await using CancellationTokenRegistration onStop = stop.Register(() =>
            _ = ProcessGroups.TerminateAsync(process, request.KillGrace));

        // When the test's own process ends, anything it left in its group dies with it: nothing outlives
        // the run, and a leftover background child can no longer hold the output pipes (and the run) open.
        while (!task.Task.IsCompleted)
        {
            if (ProcessGroups.HasExited(process.ProcessGroupId, process.StartTicks))
            {
                ProcessGroups.Signal(process, Libc.SIGKILL);
            }
            await Task.WhenAny(task.Task, Task.Delay(50, CancellationToken.None));
        }
        CommandResult result = await task;
        ProcessGroups.Signal(process, Libc.SIGKILL);
        await recorded;
        return new ExecutionResult(result.ExitCode);
    }
}
