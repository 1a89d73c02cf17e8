using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// A run's life on one ssh machine (docs/SSH.md): the test dir goes to <c>&lt;work root&gt;/&lt;run id&gt;/work</c> (see
/// <see cref="SshCopier"/>), the run wrapper starts there detached, and the agent follows by short polls that bring back new
/// log bytes from where the controller's output.log ends and the wrapper's files. A dropped connection costs a reconnect,
/// never the run: the wrapper owns it, the poll resumes at its offset, and an agent after this one finds everything in the
/// run record. The verdict comes only from the wrapper's exit file.
/// </summary>
public sealed class SshTransport : ITransport, IAsyncDisposable
{
    private static readonly TimeSpan CallLimit = TimeSpan.FromSeconds(60);

    private readonly TimedLog _log;
    private readonly SshConnection _connection;
    private readonly SshCopier _copier;
    private readonly ConcurrentDictionary<string, Followed> _followed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, bool> _forgetting = new();

    /// <summary>The programs the machine has (rsync, setsid, tar, base64), once a launch has asked.</summary>
    private HashSet<string>? _programs;

    /// <param name="socketRoot">Where the master's socket goes (see <see cref="SshEndpoint.ControlPathFor"/>).</param>
    internal SshTransport(Machine machine, string socketRoot, TimeSpan persist, TimedLog log)
    {
        _log = log;
        _connection = new SshConnection(machine, new SshEndpoint(machine, socketRoot), persist, log);
        _copier = new SshCopier(_connection, log);
    }

    internal SshConnection Connection => _connection;

    private Machine Machine => _connection.Machine;

    /// <summary>What the agent knows of a run it follows: the last look (its artifacts count) and whether more log is waiting.</summary>
    private sealed class Followed
    {
        public DateTimeOffset Since { get; } = DateTimeOffset.UtcNow;
        public RemoteReply? Pending { get; set; }
        public bool MoreLog { get; set; }
        public int Artifacts { get; set; } = -2;
        public bool HasRsync { get; set; } = true;

        /// <summary>The last look found the run done with no artifacts, and removed its work dir: nothing is left to finish.</summary>
        public bool Finished { get; set; }
    }

    public async Task<LaunchResult> LaunchAsync(LaunchRequest request, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(request.TestDir))
        {
            return LaunchResult.Failed(ErrorCodes.TestDirNotFound, $"test directory {request.TestDir} no longer exists");
        }
        Directory.CreateDirectory(request.Files.Directory, FileModes.PrivateDirectory);
        Directory.CreateDirectory(request.Files.Artifacts, FileModes.PrivateDirectory);
        try
        {
            return _programs is { } known && known.Contains("tar") && known.Contains("base64") && SshCopier.Inline(request.TestDir) is { } archive
                ? await LaunchInOneAsync(request, archive, cancellationToken)
                : await LaunchInStepsAsync(request, cancellationToken);
        }
        catch (SshException e)
        {
            return LaunchResult.Failed(e.Unreachable ? ErrorCodes.TransportUnreachable : ErrorCodes.CopyFailed,
                e.Unreachable ? e.Message : $"{e.Message}; check that {Machine.WorkRoot} is writable there ('testdispatch doctor' checks)");
        }
    }

    public async Task<RunProcess?> FindAsync(RunFiles files, CancellationToken cancellationToken = default)
    {
        RemoteReply reply = await _connection.RunAsync("look for the run's wrapper", nonce => RemoteScripts.Find(nonce, Machine.WorkRoot, files.RunId),
            CallLimit, cancellationToken);
        string dir = reply.Value('D')!;
        (int Pid, long StartTicks)? wrapper = WrapperState.Identity(Files(reply).GetValueOrDefault("wrapper")) ??
            WrapperState.Identity(reply.Value('Q') is { } live ? live + "\n" : null);
        return wrapper is { } found ? Process(dir, reply.Value('B') ?? "", found.Pid, found.StartTicks) : null;
    }

    public async Task<bool> FenceAsync(RunFiles files, CancellationToken cancellationToken = default) =>
        (await _connection.RunAsync("fence the run off", nonce => RemoteScripts.Fence(nonce, Machine.WorkRoot, files.RunId), CallLimit, cancellationToken))
            .Value('K') is not null;

    /// <summary>A small test dir: the run's directory, the copy and the start in one script.</summary>
    private async Task<LaunchResult> LaunchInOneAsync(LaunchRequest request, string archive, CancellationToken cancellationToken)
    {
        RemoteReply reply = await _connection.RunAsync("launch the run", nonce => RemoteScripts.Launch(nonce, Machine.WorkRoot, request.Files.RunId, archive,
            request.KillGrace, request.TimeLimit, request.LogLimit, Machine.LockFile, request.Holder, request.Environment, request.Command, KeepsWork(request.Files)), SshCopier.CopyLimit, cancellationToken);
        return await StartedAsync(request, reply.Value('D')!, reply.Value('B') ?? "", reply, _programs!.Contains("rsync"), cancellationToken);
    }

    /// <summary>A large test dir (or the first launch, which learns what the machine has): prepare, copy by rsync (else tar), start.</summary>
    private async Task<LaunchResult> LaunchInStepsAsync(LaunchRequest request, CancellationToken cancellationToken)
    {
        string runId = request.Files.RunId;
        RemoteReply prepared = await _connection.RunAsync("make the run's directory", nonce => RemoteScripts.Prepare(nonce, Machine.WorkRoot, runId),
            CallLimit, cancellationToken);
        string dir = prepared.Value('D')!;
        string bootId = prepared.Value('B') ?? "";
        HashSet<string> programs = [.. prepared.Values('C')];
        _programs = programs;
        if (Files(prepared).ContainsKey("wrapper"))
        {
            return await StartedAsync(request, dir, bootId, prepared, programs.Contains("rsync"), cancellationToken);
        }
        if (!programs.Contains("setsid"))
        {
            return LaunchResult.Failed(ErrorCodes.SpawnFailed, $"{Machine.Name} has no setsid (util-linux), which the run wrapper needs; install it there");
        }
        if (await _copier.CopyInAsync(request.TestDir, dir, programs, cancellationToken) is { } copyFailure)
        {
            // Nothing runs there yet: the half-copied run directory goes, as it would after a verdict.
            try
            {
                await _connection.RunAsync("remove the run's directory", nonce => RemoteScripts.Forget(nonce, dir, Machine.KeepWorkDir), CallLimit, cancellationToken);
            }
            catch (SshException e)
            {
                _log.Write($"run {runId}: could not remove {dir} on {Machine.Name} after the failed copy: {e.Message}");
            }
            return new LaunchResult(null, copyFailure);
        }
        RemoteReply started;
        try
        {
            started = await _connection.RunAsync("start the run wrapper",
                nonce => RemoteScripts.Start(nonce, dir, runId, request.KillGrace, request.TimeLimit, request.LogLimit, Machine.LockFile, request.Holder, request.Environment, request.Command, KeepsWork(request.Files)),
                CallLimit, cancellationToken);
        }
        catch (SshException e)
        {
            return LaunchResult.Failed(e.Unreachable ? ErrorCodes.TransportUnreachable : ErrorCodes.SpawnFailed, e.Message);
        }
        return await StartedAsync(request, dir, bootId, started, programs.Contains("rsync"), cancellationToken);
    }

    /// <summary>
    /// The wrapper a launch started (or found already started, by an agent that died before recording it), with the
    /// launch's look kept for the first <see cref="LookAsync"/>; a failure when no wrapper came up.
    /// </summary>
    private async Task<LaunchResult> StartedAsync(LaunchRequest request, string dir, string bootId, RemoteReply reply, bool rsync,
        CancellationToken cancellationToken)
    {
        string runId = request.Files.RunId;
        if (WrapperState.Identity(Files(reply).GetValueOrDefault("wrapper")) is not { } wrapper)
        {
            AppendLog(request.Files, reply.Log);
            // A wrapper may still have started (a test that removed its own run directory takes the wrapper's files with it):
            // whatever carries the run's id is stopped, and the directory goes, before the failure is told.
            try
            {
                await _connection.RunAsync($"stop run {runId}", nonce => RemoteScripts.Stop(nonce, dir, runId, request.KillGrace, RunWrapper.Cleanup),
                    CallLimit + request.KillGrace * 2, cancellationToken);
                await _connection.RunAsync("remove the run's directory", nonce => RemoteScripts.Forget(nonce, dir, Machine.KeepWorkDir), CallLimit, cancellationToken);
            }
            catch (SshException e)
            {
                _log.Write($"run {runId}: could not clean up {dir} on {Machine.Name} after its wrapper did not start: {e.Message}");
            }
            return LaunchResult.Failed(ErrorCodes.SpawnFailed,
                $"the run wrapper did not start on {Machine.Name} in {dir}; the run's log says why");
        }
        // A look of the wrapper's files only (a found wrapper: no log bytes came with it) is taken again by the follower.
        _followed[dir] = new Followed { Pending = reply.Value('L') is null ? null : reply, HasRsync = rsync };
        return new LaunchResult(Process(dir, bootId, wrapper.Pid, wrapper.StartTicks));
    }

    public async Task<WrapperState> LookAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default)
    {
        Followed followed = _followed.GetOrAdd(process.RunDir, _ => new Followed());
        RemoteReply reply;
        if (followed.Pending is { } pending)
        {
            reply = pending;
            followed.Pending = null;
        }
        else
        {
            reply = await LookOnceAsync("look at the run", files, process, cancellationToken);
        }
        AppendLog(files, reply.Log);
        // A wrapper that is over has written all its log: bring the rest back now, as no look comes after this one.
        while (reply.Log.Length >= RemoteScripts.LogChunk && (reply.Value('W') != "1" || Files(reply).ContainsKey("done")))
        {
            reply = await LookOnceAsync("bring back the run's log", files, process, cancellationToken);
            AppendLog(files, reply.Log);
        }
        followed.MoreLog = reply.Log.Length >= RemoteScripts.LogChunk;
        followed.Artifacts = int.TryParse(reply.Value('A'), out int artifacts) ? artifacts : -2;
        followed.Finished = reply.Value('X') is not null;
        Dictionary<string, string> found = Files(reply);
        return WrapperState.FromFiles(name => found.GetValueOrDefault(name), reply.Value('B') ?? "",
            double.TryParse(reply.Value('U'), NumberStyles.Float, CultureInfo.InvariantCulture, out double up) ? up : 0,
            reply.Value('W') == "1");
    }

    /// <summary>One look from where the controller's log ends.</summary>
    private Task<RemoteReply> LookOnceAsync(string what, RunFiles files, RunProcess process, CancellationToken cancellationToken)
    {
        long offset = LogLength(files);
        return _connection.RunAsync(what,
            nonce => RemoteScripts.Look(nonce, process.RunDir, process.WrapperPid, process.WrapperStartTicks, offset, KeepsWork(files)),
            CallLimit, cancellationToken);
    }

    /// <summary>Polls: every quarter second for a run's first seconds (most tests are short), then every second; at once while log is waiting.</summary>
    public async Task WaitAsync(RunFiles files, RunProcess process, TimeSpan most, CancellationToken cancellationToken = default)
    {
        Followed followed = _followed.GetOrAdd(process.RunDir, _ => new Followed());
        if (followed.MoreLog)
        {
            return;
        }
        TimeSpan every = DateTimeOffset.UtcNow - followed.Since < TimeSpan.FromSeconds(5) ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(1);
        try
        {
            await Task.Delay(most < every ? most : every, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Cancelled: return, as the contract says (a cancel wakes the follower, which then stops the run).
        }
    }

    /// <summary>The wrapper's stop over its own session; tried again (a dropped connection, a restarting sshd) until it is done.</summary>
    public async Task StopAsync(RunFiles files, RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await _connection.RunAsync($"stop run {files.RunId}", nonce => RemoteScripts.Stop(nonce, process.RunDir, files.RunId, grace, reason),
                    CallLimit + grace * 2, cancellationToken);
                return;
            }
            catch (SshException e) when (attempt < 120)
            {
                if (attempt == 0)
                {
                    _log.Write($"run {files.RunId}: could not stop it yet: {e.Message}; trying again");
                }
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, 0.5 * (attempt + 1))), cancellationToken);
            }
        }
    }

    public async Task<ExecutionResult?> FinishAsync(RunFiles files, RunProcess process, Machine machine, CancellationToken cancellationToken = default)
    {
        Followed followed = _followed.GetOrAdd(process.RunDir, _ => new Followed());
        if (followed.Finished && !machine.KeepWorkDir)
        {
            return null; // the last look removed the work dir: there were no artifacts
        }
        if (files.ResultPatterns.Count > 0)
        {
            await BringReportsAsync(files, process, followed.HasRsync, cancellationToken);
        }
        ExecutionResult? failure = null;
        if (followed.Artifacts is > 0 or -2)
        {
            Directory.CreateDirectory(files.Artifacts, FileModes.PrivateDirectory);
            failure = await _copier.CopyBackAsync(process.RunDir + "/artifacts", files.Artifacts, followed.HasRsync, cancellationToken);
        }
        try
        {
            RemoteReply finished = await _connection.RunAsync("clean up the run's work dir",
                nonce => RemoteScripts.Finish(nonce, process.RunDir, machine.KeepWorkDir), CallLimit, cancellationToken);
            int remoteLinks = int.TryParse(finished.Value('S'), out int links) ? links : 0;
            int dropped = remoteLinks - SshCopier.CountLinks(files.Artifacts);
            if (failure is null && dropped > 0)
            {
                AppendLog(files, Encoding.UTF8.GetBytes(
                    $"testdispatch: {dropped} symbolic link{(dropped == 1 ? "" : "s")} in the artifacts pointed outside them (or were absolute) and " +
                    "were not copied back\n"));
            }
        }
        catch (SshException e)
        {
            failure ??= ExecutionResult.Failure(ErrorCodes.ArtifactsFailed, $"could not clean up {process.RunDir} on {machine.Name}: {e.Message}");
        }
        return failure;
    }

    /// <summary>
    /// Brings the files of the work dir the test's report patterns match back into <see cref="RunFiles.Reports"/>, the way the
    /// artifacts come: listed there, matched here (<see cref="RemoteReports"/>), gathered there, then copied. Whatever fails is
    /// named in the run's log (the results then lack those reports); it never changes the verdict.
    /// </summary>
    private async Task BringReportsAsync(RunFiles files, RunProcess process, bool hasRsync, CancellationToken cancellationToken)
    {
        string? problem;
        try
        {
            RemoteReply listed = await _connection.RunAsync("list the run's work dir",
                nonce => RemoteScripts.ListWork(nonce, process.RunDir, RemoteReports.Roots(files.ResultPatterns)), CallLimit, cancellationToken);
            IReadOnlyList<string> reports = RemoteReports.Match(listed.Log, files.ResultPatterns);
            if (reports.Count == 0)
            {
                return;
            }
            await _connection.RunAsync("gather the run's reports", nonce => RemoteScripts.GatherReports(nonce, process.RunDir, reports), CallLimit,
                cancellationToken);
            Directory.CreateDirectory(files.Reports, FileModes.PrivateDirectory);
            problem = (await _copier.CopyBackAsync(process.RunDir + "/" + RemoteScripts.ReportsDir, files.Reports, hasRsync, cancellationToken))?.ErrorMsg;
        }
        catch (SshException e)
        {
            problem = e.Message;
        }
        if (problem is not null)
        {
            AppendLog(files, Encoding.UTF8.GetBytes($"testdispatch: {ErrorCodes.ResultsError}: could not bring back the reports testdispatch.json names " +
                $"with \"results\" from {process.RunDir}/work on {Machine.Name}: {TimedLog.OneLine(problem)}\n"));
        }
    }

    /// <summary>
    /// Whether the run's work dir stays until the finish: kept by the machine's setting, or holding reports to bring back
    /// (else a look that finds the run done with no artifacts removes it, saving the finish its round trip).
    /// </summary>
    private bool KeepsWork(RunFiles files) => Machine.KeepWorkDir || files.ResultPatterns.Count > 0;

    /// <summary>Removes the run's directory in the background: the verdict is recorded, and the machine's next run need not wait for it.</summary>
    public Task ForgetAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default)
    {
        _followed.TryRemove(process.RunDir, out _);
        Task forgetting = Task.Run(async () =>
        {
            try
            {
                await _connection.RunAsync("remove the run's directory", nonce => RemoteScripts.Forget(nonce, process.RunDir, Machine.KeepWorkDir),
                    CallLimit, CancellationToken.None);
            }
            catch (SshException e)
            {
                _log.Write($"could not remove {process.RunDir} on {Machine.Name}: {e.Message}");
            }
        }, CancellationToken.None);
        _forgetting[forgetting] = true;
        _ = forgetting.ContinueWith(t => _forgetting.TryRemove(t, out _), TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<string>> SweepAsync(IReadOnlyList<(RunFiles Files, string? RunDir)> runs, TimeSpan grace,
        CancellationToken cancellationToken = default)
    {
        if (runs.Count == 0)
        {
            return [];
        }
        RemoteReply swept = await _connection.RunAsync("remove what ended runs left", nonce =>
            RemoteScripts.Sweep(nonce, Machine.WorkRoot, [.. runs.Select(r => (r.RunDir, r.Files.RunId))], grace, Machine.KeepWorkDir),
            CallLimit + grace * 2, cancellationToken);
        return [.. swept.Values('R')];
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_forgetting.Keys);
        await _connection.DisposeAsync();
    }

    private RunProcess Process(string dir, string bootId, int pid, long ticks) => new()
    {
        Host = Machine.Location,
        BootId = bootId,
        RunDir = dir,
        WrapperPid = pid,
        WrapperStartTicks = ticks,
        AgentPid = Environment.ProcessId,
    };

    /// <summary>The wrapper's files in a look: a whole line as "line\n", a file without one as "" (present, not yet written).</summary>
    private static Dictionary<string, string> Files(RemoteReply reply)
    {
        Dictionary<string, string> files = new(StringComparer.Ordinal);
        foreach (string line in reply.Values('F'))
        {
            string[] parts = line.Split(' ', 2);
            files[parts[0]] = (parts.Length > 1 ? parts[1] : "") + "\n";
        }
        foreach (string name in reply.Values('P'))
        {
            files.TryAdd(name, "");
        }
        return files;
    }

    private static long LogLength(RunFiles files)
    {
        FileInfo log = new(files.Log);
        return log.Exists ? log.Length : 0;
    }

    /// <summary>
    /// Appends log bytes from the machine to the controller's output.log, whose length is where the next look starts. The
    /// first look makes it, bytes or not, as a local run's wrapper does: a test that prints nothing has an empty log, not a
    /// missing one that 'logs', 'grep' and 'diff' would call gone.
    /// </summary>
    private static void AppendLog(RunFiles files, byte[] bytes)
    {
        if (bytes.Length == 0 && File.Exists(files.Log))
        {
            return;
        }
        Directory.CreateDirectory(files.Directory, FileModes.PrivateDirectory);
        using FileStream log = new(files.Log, new FileStreamOptions
        {
            Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete, UnixCreateMode = FileModes.PrivateFile,
        });
        log.Write(bytes);
    }
}
