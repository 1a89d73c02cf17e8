using System.IO.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Transports;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Takes one pending run through its life: running (started_at), executed by its machine's transport
/// with the time limit, then terminal (ended_at, exit_code, error fields). Whatever happens, the run
/// ends terminal: a failure here is recorded on the run, never left to strand it.
/// </summary>
public sealed class RunExecutor(IFileSystem fs, RunStore store, LabConfig config, Func<Machine, ITransport> transports, TimeProvider clock, TextWriter log)
{
    /// <summary>
    /// Executes a run its machine loop took: a pending one if it is still pending (it may have been cancelled since), or
    /// one already running (a batch item, started as it was taken); <paramref name="cancel"/> is the user's cancel.
    /// </summary>
    public async Task ExecuteAsync(RunRecord taken, CancellationToken cancel)
    {
        string runId = taken.Id;
        RunRecord record = taken.Run.Status != RunStatus.Pending ? taken : store.Update(runId, r => r.Run.Status != RunStatus.Pending ? r : r with
        {
            Run = r.Run with { Status = RunStatus.Running, StartedAt = clock.GetUtcNow() },
        });
        if (record.Run.Status != RunStatus.Running || record.Run.StartedAt is null || record.Process is not null)
        {
            return;
        }
        log.WriteLine($"{Now()} run {runId} started on {record.Run.Machine}: {record.Run.TestDir}");

        using CancellationTokenSource timeout = new(record.Spec.Timeout);
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, timeout.Token);
        ExecutionResult result;
        try
        {
            result = await RunAsync(record, stop.Token);
        }
        catch (Exception e)
        {
            result = ExecutionResult.Failure(ErrorCodes.AgentError, $"the agent failed while running the test: {e.Message}");
            log.WriteLine($"{Now()} run {runId}: {e}");
        }

        // cancel is the user's cancel or the agent stopping (SIGTERM): only the first leaves a cancel request on the run.
        bool byUser = cancel.IsCancellationRequested && store.Get(runId).CancelRequestedAt is not null;
        Run ended = Verdict(record.Run, result, timedOut: timeout.IsCancellationRequested, cancelled: byUser,
            record.Spec.Timeout, agentStopped: cancel.IsCancellationRequested && !byUser) with { EndedAt = clock.GetUtcNow() };
        store.Update(runId, r => r.Run.Status.IsTerminal() ? r : r with { Run = ended });
        log.WriteLine($"{Now()} run {runId} {ended.Status.ToWord()} exit={ended.ExitCode?.ToString() ?? "-"} {ended.ErrorCode}");
    }

    private async Task<ExecutionResult> RunAsync(RunRecord record, CancellationToken stop)
    {
        Run run = record.Run;
        fs.Directory.CreateDirectory(run.ArtifactsPath);
        await using FileSystemStream output = fs.FileStream.New(run.LogsPath, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            BufferSize = 0,
        });

        if (config.FindMachine(run.Machine) is not { } machine)
        {
            return ExecutionResult.Failure(ErrorCodes.MachineUnknown,
                $"machine '{run.Machine}' is no longer in the configuration; add it back or dispatch elsewhere");
        }
        if (!machine.CanRunTests)
        {
            return ExecutionResult.Failure(ErrorCodes.TransportUnsupported, $"{machine.WhyNotRunnable}; the test was not run");
        }
        if (!fs.Directory.Exists(run.TestDir))
        {
            return ExecutionResult.Failure(ErrorCodes.TestDirNotFound, $"test directory {run.TestDir} no longer exists");
        }

        string workDir = store.Paths.Work(run.Id);
        try
        {
            ExecutionResult result = await transports(machine).ExecuteAsync(new ExecutionRequest
            {
                Run = run,
                Machine = machine,
                Command = record.Spec.Command,
                Log = output,
                WorkDir = workDir,
                KillGrace = config.Defaults.KillGrace,
                Environment = new Dictionary<string, string>
                {
                    ["TESTDISPATCH_RUN_ID"] = run.Id,
                    ["TESTDISPATCH_MACHINE"] = run.Machine,
                    ["TESTDISPATCH_ARTIFACTS"] = run.ArtifactsPath,
                    ["TESTDISPATCH_BATCH_ID"] = run.BatchId ?? "",
                },
                // The process record lets recovery kill the test's group if this agent dies while the host stays up; all
                // processes on the host read it from the page cache, so it needs no fsync (after a power cut the group is
                // gone anyway, and the fsync'd "running" line alone gets the run swept to agent_lost).
                OnStarted = process => RecordProcess(run.Id, process),
            }, stop);
            if (result.ErrorCode.Length > 0)
            {
                await output.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"testdispatch: {result.ErrorCode}: {result.ErrorMsg}\n"), CancellationToken.None);
            }
            return result;
        }
        finally
        {
            if (!machine.KeepWorkDir && fs.Directory.Exists(workDir))
            {
                fs.Directory.Delete(workDir, recursive: true);
            }
        }
    }

    /// <summary>Records the test's process for recovery; a failure to record it is logged, never allowed to cost the verdict.</summary>
    private void RecordProcess(string runId, RunProcess process)
    {
        try
        {
            store.Update(runId, r => r.Run.Status.IsTerminal() ? r : r with { Process = process }, durable: false);
        }
        catch (Exception e) when (e is DispatchException or IOException)
        {
            log.WriteLine($"{Now()} run {runId}: could not record its process group {process.ProcessGroupId} for recovery: {e.Message}");
        }
    }

    /// <summary>A stop we asked for decides the status; otherwise an infrastructure error, else the exit code.</summary>
    /// <remarks>
    /// An agent that is stopped (SIGTERM) stops its tests; such a run ends as if the agent had died (interrupted,
    /// agent_lost), so a batch entry may be retried, rather than as a user's cancel.
    /// </remarks>
    internal static Run Verdict(Run run, ExecutionResult result, bool timedOut, bool cancelled, TimeSpan limit, bool agentStopped = false) => run with
    {
        ExitCode = result.ExitCode,
        Status = timedOut ? RunStatus.Timeout
            : cancelled || agentStopped ? RunStatus.Interrupted
            : result.ErrorCode.Length > 0 ? RunStatus.Failed
            : result.ExitCode == 0 ? RunStatus.Completed
            : RunStatus.Failed,
        ErrorCode = timedOut ? ErrorCodes.Timeout : cancelled ? ErrorCodes.Interrupted : agentStopped ? ErrorCodes.AgentLost : result.ErrorCode,
        ErrorMsg = timedOut ? $"the test ran longer than its {Duration.Format(limit)} time limit and was stopped"
            : cancelled ? "cancelled; the test was stopped"
            : agentStopped ? "the agent was stopped while the test ran, and stopped the test"
            : result.ErrorMsg,
    };

    private string Now() => clock.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
