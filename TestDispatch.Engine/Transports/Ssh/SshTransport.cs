using System.Collections.Concurrent;
using System.Formats.Tar;
using System.Text;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Processes;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// Runs tests on one ssh machine (DESIGN §7, SSH.md): the test dir goes to <c>&lt;work root&gt;/&lt;run id&gt;/work</c> by
/// rsync (a tar archive over ssh where the machine has no rsync), the run wrapper starts there detached, and the agent
/// follows by short polls that bring back new log bytes from where the controller's output.log ends and the wrapper's
/// files. A dropped connection costs a reconnect, never the run: the wrapper owns it, the poll resumes at its offset,
/// and an agent after this one finds everything in the run record. Artifacts come back without symlinks that point
/// outside them; the verdict comes only from the wrapper's exit file.
/// </summary>
public sealed class SshTransport : ITransport, IAsyncDisposable
{
    private static readonly TimeSpan CallLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CopyLimit = TimeSpan.FromMinutes(30);

    private readonly StatePaths _paths;
    private readonly TextWriter _log;
    private readonly SshConnection _connection;
    private readonly ConcurrentDictionary<string, Followed> _followed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, bool> _forgetting = new();

    /// <summary>A test dir this small goes inline in the launch script (tar, base64): one round trip instead of three.</summary>
    private const long InlineBytes = 512 * 1024;

    /// <summary>The programs the machine has (rsync, setsid, tar, base64), once a launch has asked.</summary>
    private HashSet<string>? _programs;
    private volatile bool _rsyncUnusable;

    internal SshTransport(Machine machine, StatePaths paths, TimeSpan persist, TextWriter log)
    {
        _paths = paths;
        _log = log;
        _connection = new SshConnection(machine, new SshEndpoint(machine, paths.Root), persist, log);
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
        Run run = request.Run;
        if (!Directory.Exists(run.TestDir))
        {
            return LaunchResult.Failed(ErrorCodes.TestDirNotFound, $"test directory {run.TestDir} no longer exists");
        }
        Directory.CreateDirectory(_paths.RunDir(run.Id), StateDirectory.PrivateDirectory);
        Directory.CreateDirectory(run.ArtifactsPath, StateDirectory.PrivateDirectory);
        try
        {
            return _programs is { } known && known.Contains("tar") && known.Contains("base64") && Inline(run.TestDir) is { } archive
                ? await LaunchInOneAsync(request, archive, cancellationToken)
                : await LaunchInStepsAsync(request, cancellationToken);
        }
        catch (SshException e)
        {
            return LaunchResult.Failed(e.Unreachable ? ErrorCodes.TransportUnreachable : ErrorCodes.CopyFailed,
                e.Unreachable ? e.Message : $"{e.Message}; check that {Machine.WorkRoot} is writable there ('testdispatch doctor' checks)");
        }
    }

    /// <summary>A small test dir: the run's directory, the copy and the start in one script.</summary>
    private async Task<LaunchResult> LaunchInOneAsync(LaunchRequest request, string archive, CancellationToken cancellationToken)
    {
        RemoteReply reply = await _connection.RunAsync("launch the run", nonce => RemoteScripts.Launch(nonce, Machine.WorkRoot, request.Run.Id, archive,
            request.KillGrace, request.Environment, request.Command, Machine.KeepWorkDir), CopyLimit, cancellationToken);
        return await StartedAsync(request, reply.Value('D')!, reply.Value('B') ?? "", reply, _programs!.Contains("rsync"), cancellationToken);
    }

    /// <summary>A large test dir (or the first launch, which learns what the machine has): prepare, copy by rsync (else tar), start.</summary>
    private async Task<LaunchResult> LaunchInStepsAsync(LaunchRequest request, CancellationToken cancellationToken)
    {
        Run run = request.Run;
        RemoteReply prepared = await _connection.RunAsync("make the run's directory", nonce => RemoteScripts.Prepare(nonce, Machine.WorkRoot, run.Id),
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
        bool rsync = programs.Contains("rsync");
        if (await CopyInAsync(run.TestDir, dir, rsync, programs, cancellationToken) is { } copyFailure)
        {
            // Nothing runs there yet: the half-copied run directory goes, as it would after a verdict.
            try
            {
                await _connection.RunAsync("remove the run's directory", nonce => RemoteScripts.Forget(nonce, dir, Machine.KeepWorkDir), CallLimit, cancellationToken);
            }
            catch (SshException e)
            {
                _log.WriteLine($"{UtcTimestampConverter.Format(DateTimeOffset.UtcNow)} run {run.Id}: could not remove {dir} on {Machine.Name} after the failed copy: {e.Message}");
            }
            return new LaunchResult(null, copyFailure);
        }
        RemoteReply started;
        try
        {
            started = await _connection.RunAsync("start the run wrapper",
                nonce => RemoteScripts.Start(nonce, dir, run.Id, request.KillGrace, request.Environment, request.Command, Machine.KeepWorkDir),
                CallLimit, cancellationToken);
        }
        catch (SshException e)
        {
            return LaunchResult.Failed(e.Unreachable ? ErrorCodes.TransportUnreachable : ErrorCodes.SpawnFailed, e.Message);
        }
        return await StartedAsync(request, dir, bootId, started, rsync, cancellationToken);
    }

    /// <summary>
    /// The wrapper a launch started (or found already started, by an agent that died before recording it), with the
    /// launch's look kept for the first <see cref="LookAsync"/>; a failure when no wrapper came up.
    /// </summary>
    private async Task<LaunchResult> StartedAsync(LaunchRequest request, string dir, string bootId, RemoteReply reply, bool rsync,
        CancellationToken cancellationToken)
    {
        Run run = request.Run;
        if (WrapperState.Identity(Files(reply).GetValueOrDefault("wrapper")) is not { } wrapper)
        {
            AppendLog(run.Id, reply.Log);
            // A wrapper may still have started (a test that removed its own run directory takes the wrapper's files with it):
            // whatever carries the run's id is stopped, and the directory goes, before the failure is told.
            try
            {
                await _connection.RunAsync($"stop run {run.Id}", nonce => RemoteScripts.Stop(nonce, dir, run.Id, request.KillGrace, RunWrapper.Cleanup),
                    CallLimit + request.KillGrace * 2, cancellationToken);
                await _connection.RunAsync("remove the run's directory", nonce => RemoteScripts.Forget(nonce, dir, Machine.KeepWorkDir), CallLimit, cancellationToken);
            }
            catch (SshException e)
            {
                _log.WriteLine($"{UtcTimestampConverter.Format(DateTimeOffset.UtcNow)} run {run.Id}: could not clean up {dir} on {Machine.Name} after its wrapper did not start: {e.Message}");
            }
            return LaunchResult.Failed(ErrorCodes.SpawnFailed,
                $"the run wrapper did not start on {Machine.Name} in {dir}; the run's log says why");
        }
        // A look of the wrapper's files only (a found wrapper: no log bytes came with it) is taken again by the follower.
        _followed[dir] = new Followed { Pending = reply.Value('L') is null ? null : reply, HasRsync = rsync };
        return new LaunchResult(Process(dir, bootId, wrapper.Pid, wrapper.StartTicks));
    }

    /// <summary>The test dir as a base64 tar archive if it is small enough to go inline in a launch script; else null.</summary>
    private static string? Inline(string testDir)
    {
        try
        {
            return Small(testDir) ? Archive(testDir) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // the stepwise launch's copy says what cannot be read
        }
    }

    private static bool Small(string testDir)
    {
        long total = 0;
        foreach (FileInfo file in new DirectoryInfo(testDir).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            total += file.Length;
            if (total > InlineBytes)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A directory as a tar archive (modes kept, symlinks as links) in base64 lines, for a here-document.</summary>
    private static string Archive(string dir)
    {
        using MemoryStream tar = new();
        TarFile.CreateFromDirectory(dir, tar, includeBaseDirectory: false);
        return Convert.ToBase64String(tar.ToArray(), Base64FormattingOptions.InsertLineBreaks).Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    public async Task<WrapperState> LookAsync(RunProcess process, CancellationToken cancellationToken = default)
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
            long offset = LogLength(RunIdOf(process));
            reply = await _connection.RunAsync("look at the run",
                nonce => RemoteScripts.Look(nonce, process.RunDir, process.WrapperPid, process.WrapperStartTicks, offset, Machine.KeepWorkDir),
                CallLimit, cancellationToken);
        }
        AppendLog(RunIdOf(process), reply.Log);
        // A wrapper that is over has written all its log: bring the rest back now, as no look comes after this one.
        while (reply.Log.Length >= RemoteScripts.LogChunk && (reply.Value('W') != "1" || Files(reply).ContainsKey("done")))
        {
            long offset = LogLength(RunIdOf(process));
            reply = await _connection.RunAsync("bring back the run's log",
                nonce => RemoteScripts.Look(nonce, process.RunDir, process.WrapperPid, process.WrapperStartTicks, offset, Machine.KeepWorkDir),
                CallLimit, cancellationToken);
            AppendLog(RunIdOf(process), reply.Log);
        }
        followed.MoreLog = reply.Log.Length >= RemoteScripts.LogChunk;
        followed.Artifacts = int.TryParse(reply.Value('A'), out int artifacts) ? artifacts : -2;
        followed.Finished = reply.Value('X') is not null;
        Dictionary<string, string> files = Files(reply);
        return WrapperState.FromFiles(name => files.GetValueOrDefault(name), reply.Value('B') ?? "",
            double.TryParse(reply.Value('U'), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double up) ? up : 0,
            reply.Value('W') == "1");
    }

    /// <summary>Polls: every quarter second for a run's first seconds (most tests are short), then every second; at once while log is waiting.</summary>
    public async Task WaitAsync(RunProcess process, TimeSpan most, CancellationToken cancellationToken = default)
    {
        Followed followed = _followed.GetOrAdd(process.RunDir, _ => new Followed());
        if (followed.MoreLog)
        {
            return;
        }
        TimeSpan every = DateTimeOffset.UtcNow - followed.Since < TimeSpan.FromSeconds(5) ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(1);
        await Task.Delay(most < every ? most : every, cancellationToken);
    }

    /// <summary>The wrapper's stop over its own session; tried again (a dropped connection, a restarting sshd) until it is done.</summary>
    public async Task StopAsync(RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        string runId = RunIdOf(process);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await _connection.RunAsync($"stop run {runId}", nonce => RemoteScripts.Stop(nonce, process.RunDir, runId, grace, reason),
                    CallLimit + grace * 2, cancellationToken);
                return;
            }
            catch (SshException e) when (attempt < 120)
            {
                if (attempt == 0)
                {
                    _log.WriteLine($"{UtcTimestampConverter.Format(DateTimeOffset.UtcNow)} run {runId}: could not stop it yet: {e.Message}; trying again");
                }
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, 0.5 * (attempt + 1))), cancellationToken);
            }
        }
    }

    public async Task<ExecutionResult?> FinishAsync(RunProcess process, Machine machine, CancellationToken cancellationToken = default)
    {
        string runId = RunIdOf(process);
        Followed followed = _followed.GetOrAdd(process.RunDir, _ => new Followed());
        string local = _paths.Artifacts(runId);
        if (followed.Finished && !machine.KeepWorkDir)
        {
            return null; // the last look removed the work dir: there were no artifacts
        }
        ExecutionResult? failure = null;
        if (followed.Artifacts is > 0 or -2)
        {
            Directory.CreateDirectory(local, StateDirectory.PrivateDirectory);
            failure = followed.HasRsync && !_rsyncUnusable
                ? await RsyncArtifactsAsync(process.RunDir, local, cancellationToken)
                : await TarArtifactsAsync(process.RunDir, local, cancellationToken);
        }
        try
        {
            RemoteReply finished = await _connection.RunAsync("clean up the run's work dir",
                nonce => RemoteScripts.Finish(nonce, process.RunDir, machine.KeepWorkDir), CallLimit, cancellationToken);
            int remoteLinks = int.TryParse(finished.Value('S'), out int links) ? links : 0;
            int dropped = remoteLinks - CountLinks(local);
            if (failure is null && dropped > 0)
            {
                AppendLog(runId, Encoding.UTF8.GetBytes(
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

    /// <summary>Removes the run's directory in the background: the verdict is recorded, and the machine's next run need not wait for it.</summary>
    public Task ForgetAsync(RunProcess process, CancellationToken cancellationToken = default)
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
                _log.WriteLine($"{UtcTimestampConverter.Format(DateTimeOffset.UtcNow)} could not remove {process.RunDir} on {Machine.Name}: {e.Message}");
            }
        }, CancellationToken.None);
        _forgetting[forgetting] = true;
        _ = forgetting.ContinueWith(t => _forgetting.TryRemove(t, out _), TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_forgetting.Keys);
        await _connection.DisposeAsync();
    }

    private async Task<ExecutionResult?> CopyInAsync(string testDir, string dir, bool rsync, HashSet<string> programs, CancellationToken cancellationToken)
    {
        if (rsync && !_rsyncUnusable)
        {
            (int exit, string error) = await RsyncAsync(
                ["-rlpt", "--delete", "--", testDir.TrimEnd('/') + "/", _connection.Endpoint.RsyncPath(dir + "/work/")], cancellationToken);
            if (exit == 0)
            {
                return null;
            }
            if (!RsyncCannotTalk(exit))
            {
                return await CopyFailureAsync($"rsync of {testDir} to {dir}/work on {Machine.Name} failed (rsync exit {exit}): {Last(error)}",
                    ErrorCodes.CopyFailed, cancellationToken);
            }
            NoteRsyncCannotTalk(exit, error);
        }
        if (!programs.Contains("tar") || !programs.Contains("base64"))
        {
            return ExecutionResult.Failure(ErrorCodes.CopyFailed,
                $"{Machine.Name} has neither rsync nor tar and base64 to receive the test dir; install rsync there");
        }
        string archive;
        try
        {
            archive = Archive(testDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ExecutionResult.Failure(ErrorCodes.CopyFailed, $"could not read {testDir} to copy it: {e.Message}");
        }
        try
        {
            await _connection.RunAsync("unpack the test dir", nonce => RemoteScripts.Unpack(nonce, dir, archive), CopyLimit, cancellationToken);
            return null;
        }
        catch (SshException e)
        {
            return ExecutionResult.Failure(e.Unreachable ? ErrorCodes.TransportUnreachable : ErrorCodes.CopyFailed,
                $"copying {testDir} to {dir}/work on {Machine.Name} (tar over ssh) failed: {e.Message}");
        }
    }

    private async Task<ExecutionResult?> RsyncArtifactsAsync(string dir, string local, CancellationToken cancellationToken)
    {
        (int exit, string error) = await RsyncAsync(
            ["-rlt", "--safe-links", "--", _connection.Endpoint.RsyncPath(dir + "/artifacts/"), local + "/"], cancellationToken);
        if (RsyncCannotTalk(exit))
        {
            // No rsync there (a machine this agent has not copied to), or a login shell that talks on stdout: tar over ssh instead.
            NoteRsyncCannotTalk(exit, error);
            return await TarArtifactsAsync(dir, local, cancellationToken);
        }
        return exit == 0 ? null : await CopyFailureAsync(
            $"copying the artifacts back from {dir}/artifacts on {Machine.Name} failed (rsync exit {exit}): {Last(error)}; what arrived is kept",
            ErrorCodes.ArtifactsFailed, cancellationToken);
    }

    /// <summary>The artifacts as a tar archive over ssh; symlinks that are absolute or lead out of the artifacts are dropped, as rsync's --safe-links does.</summary>
    private async Task<ExecutionResult?> TarArtifactsAsync(string dir, string local, CancellationToken cancellationToken)
    {
        try
        {
            RemoteReply packed = await _connection.RunAsync("pack the artifacts", nonce => RemoteScripts.Pack(nonce, dir), CopyLimit, cancellationToken);
            byte[] archive = Convert.FromBase64String(string.Concat(packed.Lines));
            using TarReader reader = new(new MemoryStream(archive));
            string root = Path.GetFullPath(local) + Path.DirectorySeparatorChar;
            while (reader.GetNextEntry() is { } entry)
            {
                string target = Path.GetFullPath(Path.Combine(local, entry.Name));
                if (!target.StartsWith(root, StringComparison.Ordinal) && target + Path.DirectorySeparatorChar != root)
                {
                    continue;
                }
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        Directory.CreateDirectory(target);
                        break;
                    case TarEntryType.SymbolicLink:
                        string resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(target)!, entry.LinkName));
                        if (!Path.IsPathRooted(entry.LinkName) && resolved.StartsWith(root, StringComparison.Ordinal))
                        {
                            File.CreateSymbolicLink(target, entry.LinkName);
                        }
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        entry.ExtractToFile(target, overwrite: true);
                        break;
                }
            }
            return null;
        }
        catch (Exception e) when (e is SshException or IOException or FormatException or InvalidDataException or UnauthorizedAccessException)
        {
            return ExecutionResult.Failure(ErrorCodes.ArtifactsFailed, $"copying the artifacts back from {dir}/artifacts on {Machine.Name} (tar over ssh) failed: {e.Message}");
        }
    }

    /// <summary>
    /// rsync through the master, tried again (twice at most) when the connection dropped under it (ssh's 255, rsync's 12) and
    /// the machine answers again: a dropped connection or a restarted sshd costs a reconnect, not the run. Both copies are
    /// idempotent (the copy in deletes what it does not bring).
    /// </summary>
    private async Task<(int Exit, string Error)> RsyncAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            (int exit, string error) = await _connection.RsyncAsync(arguments, CopyLimit, cancellationToken);
            if (exit is not (255 or 12) || attempt == 2 || !await AnswersAsync(cancellationToken))
            {
                return (exit, error);
            }
            _log.WriteLine($"{UtcTimestampConverter.Format(DateTimeOffset.UtcNow)} machine {Machine.Name}: the connection dropped under rsync " +
                $"(rsync exit {exit}: {Last(error)}); copying again");
        }
    }

    /// <summary>Whether the machine answers (a new master is started if the old one died).</summary>
    private async Task<bool> AnswersAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _connection.RunAsync("check the connection", RemoteScripts.Ping, CallLimit, cancellationToken);
            return true;
        }
        catch (SshException)
        {
            return false;
        }
    }

    /// <summary>
    /// rsync's exits that say it could not talk to an rsync on the machine: none there (127), or its protocol garbled (2, 5,
    /// not 12: a dropped connection says that too), as a login shell or profile that prints on stdout does (rsync's "is your shell clean?"). tar over ssh, whose
    /// answer is read between markers, copes with both.
    /// </summary>
    private static bool RsyncCannotTalk(int exit) => exit is 2 or 5 or 127;

    /// <summary>Says why rsync is not used, and stops trying it on this machine.</summary>
    private void NoteRsyncCannotTalk(int exit, string error)
    {
        _rsyncUnusable = true;
        _log.WriteLine($"{UtcTimestampConverter.Format(DateTimeOffset.UtcNow)} machine {Machine.Name}: rsync could not talk to the machine (rsync exit {exit}: " +
            $"{Last(error)}; no rsync there, or a login shell that prints on stdout); copying by tar over ssh instead");
    }

    /// <summary>A failed copy: transport_unreachable when the machine no longer answers, else <paramref name="code"/>.</summary>
    private async Task<ExecutionResult> CopyFailureAsync(string message, string code, CancellationToken cancellationToken)
    {
        try
        {
            await _connection.RunAsync("check the connection", RemoteScripts.Ping, CallLimit, cancellationToken);
            return ExecutionResult.Failure(code, message);
        }
        catch (SshException e) when (e.Unreachable)
        {
            return ExecutionResult.Failure(ErrorCodes.TransportUnreachable, e.Message);
        }
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

    private long LogLength(string runId)
    {
        FileInfo log = new(_paths.Log(runId));
        return log.Exists ? log.Length : 0;
    }

    /// <summary>Appends log bytes from the machine to the controller's output.log, whose length is where the next look starts.</summary>
    private void AppendLog(string runId, byte[] bytes)
    {
        if (bytes.Length == 0)
        {
            return;
        }
        Directory.CreateDirectory(_paths.RunDir(runId), StateDirectory.PrivateDirectory);
        using FileStream log = new(_paths.Log(runId), new FileStreamOptions
        {
            Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete, UnixCreateMode = StateDirectory.PrivateFile,
        });
        log.Write(bytes);
    }

    /// <summary>The symlinks under <paramref name="dir"/>, never descending into one (a link to "." or ".." must not be followed round).</summary>
    private static int CountLinks(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return 0;
        }
        int links = 0;
        foreach (FileSystemInfo entry in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true }))
        {
            if (entry.LinkTarget is not null)
            {
                links++;
            }
            else if (entry is DirectoryInfo sub)
            {
                links += CountLinks(sub.FullName);
            }
        }
        return links;
    }

    private static string Last(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";

    private static string RunIdOf(RunProcess process) => process.RunDir[(process.RunDir.LastIndexOf('/') + 1)..];
}
