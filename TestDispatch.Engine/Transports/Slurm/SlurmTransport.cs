using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.FileSystemGlobbing;
using Microsoft.Extensions.FileSystemGlobbing.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Engine.Transports.Slurm;

/// <summary>
/// Runs each test as a Slurm job (docs/DESIGN.md, "Slurm machines"): the run's directory is <c>WorkRoot/&lt;run id&gt;</c> on a
/// file system the controller and every node share, written and read here directly; the job, named <c>td-&lt;run id&gt;</c>,
/// is the run wrapper itself, which owns the run on the node as on an ssh definition. Slurm hands out the nodes, exclusively,
/// across users and controllers; its state only explains a job that ended without the wrapper's verdict. A stop is the
/// wrapper's own: the reason in its <c>stop.request</c>, then SIGUSR1 to the batch script (<c>scancel --batch</c>).
/// </summary>
public sealed class SlurmTransport(Machine definition, SlurmQueue queue, TimedLog log) : ITransport
{
    /// <summary>Guards the copy's executables against our own forks (see TestDirCopier); sbatch is the only process started here.</summary>
    private static readonly Lock ForkGate = new();

    /// <summary>What the controller's boot id is to a run on Slurm: the node's is neither known nor needed here.</summary>
    private const string BootId = "slurm";

    private const int LogChunk = 4 << 20;

    private readonly ConcurrentDictionary<string, DateTimeOffset> _since = new(StringComparer.Ordinal);

    public Machine Machine => definition;

    private string RunDir(string runId) => Path.Combine(definition.WorkRoot, runId);

    public async Task<LaunchResult> LaunchAsync(LaunchRequest request, CancellationToken cancellationToken = default)
    {
        string runId = request.Files.RunId;
        string dir = RunDir(runId);
        if (await SubmittedAsync(runId, dir, cancellationToken) is { } submitted)
        {
            return new LaunchResult(submitted);
        }
        if (!Directory.Exists(request.TestDir))
        {
            return LaunchResult.Failed(ErrorCodes.TestDirNotFound, $"test directory {request.TestDir} no longer exists");
        }
        string work = Path.Combine(dir, "work");
        string script = Path.Combine(dir, RunWrapper.FileName);
        try
        {
            Directory.CreateDirectory(dir, FileModes.PrivateDirectory);
            foreach (string leftover in new[] { work, Path.Combine(dir, "artifacts") }.Where(Directory.Exists))
            {
                Directory.Delete(leftover, recursive: true); // a launch cut short by an agent's death
            }
            foreach (string control in RunWrapper.ControlFiles.Append("output.log"))
            {
                File.Delete(Path.Combine(dir, control));
            }
            Directory.CreateDirectory(work, FileModes.PrivateDirectory);
            Directory.CreateDirectory(Path.Combine(dir, "artifacts"), FileModes.PrivateDirectory);
            TestDirCopier.Copy(request.TestDir, work, ForkGate);
            File.WriteAllText(script, RunWrapper.Script);
            File.SetUnixFileMode(script, FileModes.PrivateDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return LaunchResult.Failed(ErrorCodes.CopyFailed, $"could not copy {request.TestDir} to {work} (WorkRoot of Slurm machine {definition.Name}): {e.Message}");
        }
        if (request.Command is [var program, ..] && program.Contains('/', StringComparison.Ordinal) &&
            CommandResolver.Check(request.Command, work, request.Environment) is { } problem)
        {
            return LaunchResult.Failed(ErrorCodes.SpawnFailed, problem);
        }
        Dictionary<string, string> environment = new(request.Environment, StringComparer.Ordinal) { ["TESTDISPATCH_ARTIFACTS"] = Path.Combine(dir, "artifacts") };
        // The machine's lock is Slurm's exclusive allocation: the wrapper's own lock is the run's, in its private directory.
        IReadOnlyList<string> wrapper = RunWrapper.RunArguments(script, dir, runId, request.KillGrace, request.TimeLimit, request.LogLimit,
            Path.Combine(dir, "slurm.lock"), request.Holder, environment, request.Command);
        IReadOnlyList<string> arguments = SubmitArguments(definition, runId, request.TimeLimit + request.KillGrace, wrapper);
        string failure = "";
        for (int attempt = 0; attempt < 3; attempt++)
        {
            if (attempt > 0)
            {
                // sbatch may have failed after slurmctld took the job: never submit it twice.
                await Task.Delay(TimeSpan.FromSeconds(2 * attempt), cancellationToken);
                try
                {
                    if (await SubmittedAsync(runId, dir, cancellationToken) is { } accepted)
                    {
                        return new LaunchResult(accepted);
                    }
                }
                catch (SlurmException e)
                {
                    failure = e.Message;
                    continue;
                }
            }
            SlurmReply reply = await SlurmClient.RunAsync("sbatch", arguments, cancellationToken);
            if (reply.Ok && reply.Output.Split('\n')[0].Split(';')[0].Trim() is { Length: > 0 } jobId)
            {
                queue.Submitted(runId);
                log.Write($"run {runId}: submitted to Slurm as job {jobId} ({definition.Location})");
                return new LaunchResult(Process(dir, jobId, definition.Location));
            }
            failure = reply.Exit == -1 ? reply.Error : $"sbatch exited {reply.Exit}: {reply.Error}";
            if (reply.Exit != -1 && !reply.Error.Contains("Unable to contact", StringComparison.Ordinal))
            {
                break; // Slurm said no (an unknown node, partition or feature): trying again changes nothing
            }
        }
        return LaunchResult.Failed(ErrorCodes.SpawnFailed,
            $"Slurm did not take the run's job for machine {definition.Name}: {failure}; 'testdispatch doctor' checks the machine's Slurm settings");
    }

    /// <summary>
    /// sbatch's arguments for a run: named after it, one whole node (the named one, or any of the pool's), not requeued (a
    /// requeued job can run twice at once), Slurm's own output thrown away (the wrapper writes the log), the run's limit and
    /// grace in whole minutes, the machine's own options, then the wrapper and its arguments as the job's script.
    /// </summary>
    public static IReadOnlyList<string> SubmitArguments(Machine machine, string runId, TimeSpan limit, IReadOnlyList<string> wrapper)
    {
        List<string> arguments = ["--parsable", "--job-name", SlurmJob.NameOf(runId), "-N1", "--exclusive", "--no-requeue", "--output", "/dev/null"];
        if (machine.Node is { } node)
        {
            arguments.AddRange(["-w", node]);
        }
        if (machine.Partition is { } partition)
        {
            arguments.AddRange(["-p", partition]);
        }
        if (machine.Constraint is { } constraint)
        {
            arguments.Add($"--constraint={constraint}");
        }
        arguments.Add($"--time={Math.Max(1, (long)Math.Ceiling(limit.TotalMinutes)).ToString(CultureInfo.InvariantCulture)}");
        arguments.AddRange(machine.SlurmOptions);
        arguments.AddRange(wrapper);
        return arguments;
    }

    /// <summary>The job already submitted for this run, if Slurm has one that is on or that started the wrapper.</summary>
    private async Task<RunProcess?> SubmittedAsync(string runId, string dir, CancellationToken cancellationToken) =>
        await queue.JobAsync(runId, null, fresh: true, cancellationToken) is { } job && (job.Alive || File.Exists(Path.Combine(dir, "wrapper")))
            ? Process(dir, job.Id, job.Node is { Length: > 0 } node ? $"slurm:{node}" : definition.Location)
            : null;

    public async Task<RunProcess?> FindAsync(RunFiles files, CancellationToken cancellationToken = default)
    {
        string dir = RunDir(files.RunId);
        if (await SubmittedAsync(files.RunId, dir, cancellationToken) is { } found)
        {
            return found;
        }
        // Slurm forgot the job (purged a while after its end), but its wrapper ran: what it wrote decides.
        return File.Exists(Path.Combine(dir, "wrapper")) ? Process(dir, "", definition.Location) : null;
    }

    /// <summary>The run's directory is on the shared work root, where the job's wrapper makes its file: fenced there.</summary>
    public Task<bool> FenceAsync(RunFiles files, CancellationToken cancellationToken = default) => Task.FromResult(RunWrapper.Fence(RunDir(files.RunId)));

    public async Task<WrapperState> LookAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default)
    {
        _since.TryAdd(process.RunDir, DateTimeOffset.UtcNow);
        // The queue first, then the files: a job seen ended has written all it ever will.
        SlurmJob? job = await queue.JobAsync(files.RunId, process.JobId, fresh: false, cancellationToken);
        WrapperState state = WrapperState.FromFiles(name => Read(Path.Combine(process.RunDir, name)), process.BootId, 0, false);
        CopyLog(files, process.RunDir);
        string jobName = $"Slurm job {(job?.Id ?? process.JobId) switch { "" => SlurmJob.NameOf(files.RunId), var id => id }}";
        bool lost = state.Stop?.Reason == RunWrapper.Signalled || (!state.Done && job?.Alive != true);
        if (lost || (state.Test is not null && job is { Node: "" }))
        {
            // The queue's view may be from before the job started or ended: what decides the run, or names its node, is asked afresh.
            job = await queue.JobAsync(files.RunId, process.JobId, fresh: true, cancellationToken);
        }
        // Slurm says how a job ended only once its node has cleaned up after it (COMPLETING, a few seconds at most).
        for (int i = 0; lost && job is { State: "COMPLETING" } && i < 100; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            job = await queue.JobAsync(files.RunId, process.JobId, fresh: true, cancellationToken);
        }
        lost = state.Stop?.Reason == RunWrapper.Signalled || (!state.Done && job?.Alive != true);
        return state with
        {
            WrapperAlive = job?.Alive == true,
            Uptime = NodeUptime(process.RunDir, state),
            Queued = job is { Pending: true } && state.Test is null ? job.Reason : null,
            Node = job?.Node is { Length: > 0 } node ? node : null,
            JobEnd = lost ? EndOf(jobName, job) : null,
        };
    }

    /// <summary>
    /// The node's clock now, in its seconds since boot, from the test's start (the wrapper's pgid file) and how long ago that
    /// file was written: the agent counts the time limit on it (the wrapper holds the limit on the node too). 0 before the test.
    /// </summary>
    private static double NodeUptime(string dir, WrapperState state) =>
        state.Test is { } test && File.GetLastWriteTimeUtc(Path.Combine(dir, "pgid")) is var written && written.Year > 1601
            ? test.Uptime + Math.Max(0, (DateTime.UtcNow - written).TotalSeconds)
            : 0;

    /// <summary>Why the run's job ended without the wrapper's verdict, as Slurm says: its time limit is a timeout, anything else an infrastructure failure.</summary>
    internal static JobEnd EndOf(string jobName, SlurmJob? job) => job switch
    {
        null => new JobEnd(ErrorCodes.JobLost, $"{jobName} is no longer known to Slurm and its run wrapper left no verdict (the job was purged, or the " +
            "work root is not shared with the node)"),
        { State: "TIMEOUT" } => new JobEnd(ErrorCodes.Timeout, $"{jobName} reached its Slurm time limit on {job.Node} and Slurm ended it"),
        { State: "CANCELLED" } => new JobEnd(ErrorCodes.JobLost, $"{jobName} was cancelled in Slurm by someone else (scancel), not through testdispatch; " +
            "the test was stopped"),
        _ => new JobEnd(ErrorCodes.JobLost, $"{jobName} ended {job.State}{(job.Reason is "None" or "" ? "" : $" ({job.Reason})")}" +
            $"{(job.Node is "" ? "" : $" on {job.Node}")} without the run wrapper's verdict"),
    };

    /// <summary>Polls: every quarter second for a run's first seconds, then every second (the queue itself is asked at most once a second).</summary>
    public async Task WaitAsync(RunFiles files, RunProcess process, TimeSpan most, CancellationToken cancellationToken = default)
    {
        DateTimeOffset since = _since.GetOrAdd(process.RunDir, _ => DateTimeOffset.UtcNow);
        TimeSpan every = DateTimeOffset.UtcNow - since < TimeSpan.FromSeconds(5) ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(1);
        try
        {
            await Task.Delay(most < every ? most : every, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Cancelled: return, as the contract says.
        }
    }

    /// <summary>
    /// The wrapper's stop, from here: the reason in <c>stop.request</c>, SIGUSR1 to the job's batch script, then the job is
    /// waited for until the wrapper is done (its grace, and some); a job still there then, or one that never started, is
    /// scancel'ed.
    /// </summary>
    public async Task StopAsync(RunFiles files, RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        string done = Path.Combine(process.RunDir, "done");
        if (await JobOfAsync(files, process, cancellationToken) is not { Alive: true } job || File.Exists(done))
        {
            return;
        }
        try
        {
            string request = Path.Combine(process.RunDir, RunWrapper.StopRequest);
            File.WriteAllText(request + ".tmp", reason + "\n");
            File.Move(request + ".tmp", request, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Write($"run {files.RunId}: could not write its stop request in {process.RunDir}: {e.Message}; cancelling its job instead");
        }
        if (!job.Pending && File.Exists(Path.Combine(process.RunDir, "wrapper")))
        {
            await SlurmClient.RunAsync("scancel", ["--batch", "--signal=USR1", job.Id], cancellationToken);
            DateTimeOffset deadline = DateTimeOffset.UtcNow + grace + TimeSpan.FromSeconds(30);
            while (DateTimeOffset.UtcNow < deadline && !File.Exists(done) && await JobOfAsync(files, process, cancellationToken) is { Alive: true })
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
            if (File.Exists(done))
            {
                return;
            }
        }
        await SlurmClient.RunAsync("scancel", [job.Id], cancellationToken);
        while (await JobOfAsync(files, process, cancellationToken) is { Alive: true })
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    private async Task<SlurmJob?> JobOfAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken)
    {
        try
        {
            return await queue.JobAsync(files.RunId, process.JobId, fresh: true, cancellationToken);
        }
        catch (SlurmException e)
        {
            log.Write($"run {files.RunId}: {e.Message}");
            return null;
        }
    }

    public Task<ExecutionResult?> FinishAsync(RunFiles files, RunProcess process, Machine machine, CancellationToken cancellationToken = default)
    {
        CopyLog(files, process.RunDir);
        string artifacts = Path.Combine(process.RunDir, "artifacts");
        ExecutionResult? failure = null;
        try
        {
            if (Directory.Exists(artifacts) && Directory.EnumerateFileSystemEntries(artifacts).Any())
            {
                Directory.CreateDirectory(files.Artifacts, FileModes.PrivateDirectory);
                TestDirCopier.Copy(artifacts, files.Artifacts, ForkGate);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            failure = ExecutionResult.Failure(ErrorCodes.ArtifactsFailed, $"could not bring the artifacts back from {artifacts}: {e.Message}");
        }
        BringReports(files, Path.Combine(process.RunDir, "work"));
        if (!machine.KeepWorkDir)
        {
            Remove(Path.Combine(process.RunDir, "work"));
            Remove(artifacts);
        }
        return Task.FromResult(failure);
    }

    /// <summary>
    /// Copies the files of the work dir (on the shared work root) the test's report patterns match into
    /// <see cref="RunFiles.Reports"/>, at their paths in it, before the work dir goes: read there as an ssh run's are.
    /// Regular files only, never through a symlink. A copy that fails is said in the agent's log; the run's results then
    /// lack those reports, and its verdict stays the test's.
    /// </summary>
    private void BringReports(RunFiles files, string work)
    {
        if (files.ResultPatterns.Count == 0 || !Directory.Exists(work))
        {
            return;
        }
        try
        {
            Matcher matcher = new(StringComparison.Ordinal);
            matcher.AddIncludePatterns(files.ResultPatterns);
            foreach (FilePatternMatch match in matcher.Execute(new DirectoryInfoWrapper(new DirectoryInfo(work))).Files)
            {
                string from = Path.Combine(work, match.Path);
                if (new FileInfo(from) is not { Exists: true, LinkTarget: null } || AnyLinkBetween(work, from))
                {
                    continue;
                }
                string to = Path.Combine(files.Reports, match.Path);
                Directory.CreateDirectory(Path.GetDirectoryName(to)!, FileModes.PrivateDirectory);
                File.Copy(from, to, overwrite: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Write($"run {files.RunId}: could not bring the reports back from {work}: {e.Message}");
        }
    }

    /// <summary>Whether a directory between <paramref name="root"/> and <paramref name="path"/> is a symlink.</summary>
    private static bool AnyLinkBetween(string root, string path)
    {
        for (string? dir = Path.GetDirectoryName(path); dir is not null && dir.Length > root.Length; dir = Path.GetDirectoryName(dir))
        {
            if (new DirectoryInfo(dir).LinkTarget is not null)
            {
                return true;
            }
        }
        return false;
    }

    public Task ForgetAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default)
    {
        _since.TryRemove(process.RunDir, out _);
        queue.Forget(files.RunId);
        if (definition.KeepWorkDir)
        {
            foreach (string control in RunWrapper.ControlFiles)
            {
                File.Delete(Path.Combine(process.RunDir, control));
            }
        }
        else
        {
            Remove(process.RunDir);
        }
        return Task.CompletedTask;
    }

    /// <summary>Cancels the jobs of runs that are over (by their names: an agent that died never recorded their ids), then removes their directories.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(IReadOnlyList<(RunFiles Files, string? RunDir)> runs, TimeSpan grace,
        CancellationToken cancellationToken = default)
    {
        if (runs.Count == 0)
        {
            return [];
        }
        SlurmReply cancelled = await SlurmClient.RunAsync("scancel",
            ["--user", Environment.UserName, "--name", string.Join(',', runs.Select(r => SlurmJob.NameOf(r.Files.RunId)))], cancellationToken);
        if (!cancelled.Ok)
        {
            throw new SlurmException($"scancel failed: {cancelled.Error}");
        }
        List<string> swept = [];
        foreach ((RunFiles files, string? runDir) in runs)
        {
            string dir = runDir ?? RunDir(files.RunId);
            if (definition.KeepWorkDir)
            {
                foreach (string control in RunWrapper.ControlFiles.Where(_ => Directory.Exists(dir)))
                {
                    File.Delete(Path.Combine(dir, control));
                }
            }
            else
            {
                Remove(dir);
            }
            swept.Add(files.RunId);
        }
        return swept;
    }

    private RunProcess Process(string dir, string jobId, string host) => new()
    {
        Host = host,
        BootId = BootId,
        RunDir = dir,
        // The wrapper's pid is the node's, never signalled from here: a marker that the run has a wrapper (see IsLegacy).
        WrapperPid = -1,
        JobId = jobId,
        AgentPid = Environment.ProcessId,
    };

    /// <summary>Appends what the shared run dir's log has beyond the controller's copy (whose length is where the next look starts).</summary>
    private static void CopyLog(RunFiles files, string dir)
    {
        string source = Path.Combine(dir, "output.log");
        if (!File.Exists(source))
        {
            return;
        }
        long offset = File.Exists(files.Log) ? new FileInfo(files.Log).Length : 0;
        using FileStream input = new(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (input.Length <= offset)
        {
            return;
        }
        input.Seek(offset, SeekOrigin.Begin);
        Directory.CreateDirectory(files.Directory, FileModes.PrivateDirectory);
        using FileStream output = new(files.Log, new FileStreamOptions
        {
            Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete, UnixCreateMode = FileModes.PrivateFile,
        });
        byte[] buffer = new byte[Math.Min(LogChunk, input.Length - offset)];
        int read;
        while (output.Length - offset < LogChunk && (read = input.Read(buffer)) > 0)
        {
            output.Write(buffer, 0, read);
        }
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static void Remove(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (UnauthorizedAccessException)
        {
            // A test that took its own write permission away: given back, as chmod -R u+rwx would.
            Writable(new DirectoryInfo(dir));
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Writable(DirectoryInfo dir)
    {
        dir.UnixFileMode |= FileModes.PrivateDirectory;
        foreach (DirectoryInfo sub in dir.EnumerateDirectories().Where(d => d.LinkTarget is null))
        {
            Writable(sub);
        }
    }
}
