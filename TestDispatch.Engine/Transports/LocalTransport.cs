using System.Collections.Concurrent;
using CliWrap;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Processes;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Engine.Transports;

/// <summary>
/// Runs tests on this host. A run's directory is <c>runs/&lt;id&gt;/</c> in the state dir: the test dir is copied to its
/// <c>work/</c> (as cp -a would), and the run wrapper is started there through setsid, in a session of its own, writing
/// the log straight into the run's output.log. The agent is the wrapper's parent only by accident of who started it:
/// nothing passes between them but files, so the wrapper and its test go on when the agent dies.
/// </summary>
public sealed class LocalTransport : ITransport
{
    /// <summary>
    /// Held while starting a process, and by the copy while it writes an executable file: a child forked while another
    /// machine's copy has its run.sh open for writing keeps that descriptor until it execs, and that run.sh's own exec
    /// then fails with "Text file busy". Never held across a wait.
    /// </summary>
    private static readonly Lock ForkGate = new();

    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>The wrappers this agent started, by run dir: their end is the fastest sign that a run is over.</summary>
    private readonly ConcurrentDictionary<string, Task> _children = new(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<string, DirectoryWatcher> _watchers = new(StringComparer.Ordinal);

    public Task<LaunchResult> LaunchAsync(LaunchRequest request, CancellationToken cancellationToken = default)
    {
        RunFiles files = request.Files;
        string dir = files.Directory;
        if (Started(files) is { } started)
        {
            return Task.FromResult(new LaunchResult(started));
        }
        if (!Directory.Exists(request.TestDir))
        {
            return Task.FromResult(LaunchResult.Failed(ErrorCodes.TestDirNotFound, $"test directory {request.TestDir} no longer exists"));
        }
        string work = Path.Combine(dir, "work");
        try
        {
            Directory.CreateDirectory(dir, Private);
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true); // a launch cut short by an agent's death
            }
            Directory.CreateDirectory(work, Private);
            Directory.CreateDirectory(files.Artifacts, Private);
            TestDirCopier.Copy(request.TestDir, work, ForkGate);
            CrashPoints.Reached("work-copied");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // This host's disk is the controller's: its being full is nobody's test and no machine's fault.
            return Task.FromResult(IoErrors.Errno(e) is Libc.ENOSPC or Libc.EDQUOT || DiskSpace.IsFull(dir)
                ? LaunchResult.Failed(ErrorCodes.DiskFull, $"could not copy {request.TestDir} to {work}: the controller's disk is full ({e.Message}); free space there, then run it again")
                : LaunchResult.Failed(ErrorCodes.CopyFailed, $"could not copy {request.TestDir} to {work}: {e.Message}"));
        }
        if (CommandResolver.Check(request.Command, work, request.Environment) is { } problem)
        {
            return Task.FromResult(LaunchResult.Failed(ErrorCodes.SpawnFailed, problem));
        }

        string script = Path.Combine(dir, RunWrapper.FileName);
        CommandTask<CommandResult> wrapper;
        try
        {
            WriteScript(script);
            Command command = Cli.Wrap("setsid")
                .WithArguments(["sh", .. RunWrapper.RunArguments(script, dir, files.RunId, request.KillGrace, request.TimeLimit, request.LogLimit,
                    request.Machine.LockFile, request.Holder, request.Environment, request.Command)])
                .WithWorkingDirectory(dir)
                .WithStandardInputPipe(PipeSource.Null)
                .WithStandardOutputPipe(PipeTarget.Null)
                .WithStandardErrorPipe(PipeTarget.Null)
                .WithValidation(CommandResultValidation.None);
            lock (ForkGate)
            {
                wrapper = command.ExecuteAsync(CancellationToken.None);
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            return Task.FromResult(LaunchResult.Failed(ErrorCodes.SpawnFailed,
                $"could not start the run wrapper (setsid sh {script}): {e.Message}; 'testdispatch doctor' checks what is missing"));
        }
        _children[dir] = wrapper.Task;
        // setsid(1) does not fork here (its caller leads no group), so the pid is the wrapper's own.
        return Task.FromResult(new LaunchResult(Process(dir, wrapper.ProcessId, ProcFs.StartTicks(wrapper.ProcessId) ?? 0)));
    }

    public Task<RunProcess?> FindAsync(RunFiles files, CancellationToken cancellationToken = default) => Task.FromResult(Started(files));

    public Task<bool> FenceAsync(RunFiles files, CancellationToken cancellationToken = default) => Task.FromResult(RunWrapper.Fence(files.Directory));

    /// <summary>
    /// The wrapper started for this run, if one was: its own record of itself, or, in the instant before it writes that, the
    /// live process running it (a second launch then would copy the test dir again under it and start a second test).
    /// </summary>
    private static RunProcess? Started(RunFiles files)
    {
        if (Existing(files.Directory) is { } recorded)
        {
            return recorded;
        }
        // A wrapper leaves at once without its run's work dir (its first step is to go there): none to look for in /proc.
        if (!Directory.Exists(Path.Combine(files.Directory, "work")) || WrapperProcesses.Find(files.Directory, files.RunId) is not { } live)
        {
            return null;
        }
        // Its file comes within milliseconds of its start, unless it is held up (stopped, a machine under load).
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            if (Existing(files.Directory) is { } written)
            {
                return written;
            }
            Thread.Sleep(20);
        }
        return Process(files.Directory, live.Pid, live.StartTicks);
    }

    public Task<WrapperState> LookAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default)
    {
        int? status = _children.TryGetValue(process.RunDir, out Task? child) && child is Task<CommandResult> { IsCompletedSuccessfully: true } ended
            ? ended.Result.ExitCode : null;
        // The wrapper's own record of itself, once written, over what its launch saw: the process the launch started is
        // not the wrapper if anything between them forked (setsid(1) does when its caller leads a process group).
        (int Pid, long StartTicks) wrapper = WrapperState.Identity(Read(Path.Combine(process.RunDir, "wrapper"))) ??
            (process.WrapperPid, process.WrapperStartTicks);
        return Task.FromResult(WrapperState.FromFiles(name => Read(Path.Combine(process.RunDir, name)), ProcFs.BootId(), ProcFs.Uptime(),
            ProcFs.IsRunning(wrapper.Pid, wrapper.StartTicks)) with { WrapperStatus = status });
    }

    /// <summary>The wrapper's files appearing (inotify, else a poll), or the end of a wrapper this agent started.</summary>
    public async Task WaitAsync(RunFiles files, RunProcess process, TimeSpan most, CancellationToken cancellationToken = default)
    {
        // File names only, and only the wrapper's records: the test's writes to output.log, and the wrapper's scratch files
        // (a reservation, the FIFO, a stop's claim), would wake the follower for a look that finds nothing new.
        DirectoryWatcher watcher = _watchers.GetOrAdd(process.RunDir, dir => new DirectoryWatcher(RealDisk, dir, NotifyFilters.FileName, RunWrapper.Records));
        Task changed = watcher.WaitAsync(most, cancellationToken);
        await (_children.TryGetValue(process.RunDir, out Task? child) ? Task.WhenAny(changed, child) : Task.WhenAny(changed));
    }

    private static readonly System.IO.Abstractions.FileSystem RealDisk = new();

    public async Task StopAsync(RunFiles files, RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default)
    {
        string script = Path.Combine(process.RunDir, RunWrapper.FileName);
        if (!File.Exists(script))
        {
            // Someone deleted the run's directory under it: the stop still finds the run's processes by its id.
            Directory.CreateDirectory(process.RunDir, Private);
            WriteScript(script);
        }
        Command stop = Cli.Wrap("sh")
            .WithArguments(RunWrapper.StopArguments(script, process.RunDir, files.RunId, grace, reason))
            .WithStandardInputPipe(PipeSource.Null)
            .WithValidation(CommandResultValidation.None);
        CommandTask<CommandResult> running;
        lock (ForkGate)
        {
            running = stop.ExecuteAsync(cancellationToken);
        }
        await running;
    }

    public Task<ExecutionResult?> FinishAsync(RunFiles files, RunProcess process, Machine machine, CancellationToken cancellationToken = default)
    {
        string work = Path.Combine(process.RunDir, "work");
        if (!machine.KeepWorkDir && Directory.Exists(work))
        {
            RemoveTree(work);
        }
        return Task.FromResult<ExecutionResult?>(null);
    }

    public Task ForgetAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default)
    {
        _children.TryRemove(process.RunDir, out _);
        if (_watchers.TryRemove(process.RunDir, out DirectoryWatcher? watcher))
        {
            watcher.Dispose();
        }
        foreach (string name in RunWrapper.ControlFiles)
        {
            File.Delete(Path.Combine(process.RunDir, name));
        }
        foreach (string file in RunWrapper.ControlPatterns.SelectMany(pattern => Directory.EnumerateFiles(process.RunDir, pattern)))
        {
            File.Delete(file);
        }
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<string>> SweepAsync(IReadOnlyList<(RunFiles Files, string? RunDir)> runs, TimeSpan grace,
        CancellationToken cancellationToken = default)
    {
        List<string> clean = [];
        foreach ((RunFiles files, string? runDir) in runs)
        {
            RunProcess process = new() { RunDir = runDir ?? files.Directory };
            if (File.Exists(Path.Combine(process.RunDir, "wrapper")) || File.Exists(Path.Combine(process.RunDir, RunWrapper.FileName)))
            {
                await StopAsync(files, process, RunWrapper.Cleanup, grace, cancellationToken);
                await ForgetAsync(files, process, cancellationToken);
            }
            clean.Add(files.RunId);
        }
        return clean;
    }

    /// <summary>The wrapper's text into the run's directory, private like every file of the state dir.</summary>
    private static void WriteScript(string path)
    {
        using FileStream file = new(path, new FileStreamOptions
        {
            Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        file.Write(System.Text.Encoding.UTF8.GetBytes(RunWrapper.Script));
    }

    /// <summary>Deletes a work dir, also one where the test took away its own write permission on a folder.</summary>
    private static void RemoveTree(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (UnauthorizedAccessException)
        {
            MakeOwnersAgain(path);
            Directory.Delete(path, recursive: true);
        }
    }

    private static void MakeOwnersAgain(string folder)
    {
        File.SetUnixFileMode(folder, File.GetUnixFileMode(folder) | Private);
        foreach (DirectoryInfo sub in new DirectoryInfo(folder).EnumerateDirectories("*", new EnumerationOptions { AttributesToSkip = 0 }))
        {
            if (sub.LinkTarget is null)
            {
                MakeOwnersAgain(sub.FullName);
            }
        }
    }

    /// <summary>The wrapper an agent before this one started for the run, if one did.</summary>
    private static RunProcess? Existing(string dir) =>
        WrapperState.Identity(Read(Path.Combine(dir, "wrapper"))) is { } wrapper ? Process(dir, wrapper.Pid, wrapper.StartTicks) : null;

    private static RunProcess Process(string dir, int pid, long startTicks) => new()
    {
        Host = "local",
        BootId = ProcFs.BootId(),
        RunDir = dir,
        WrapperPid = pid,
        WrapperStartTicks = startTicks,
        AgentPid = Environment.ProcessId,
    };

    private static string? Read(string path)
    {
        // Most of a look's files are not there yet: asked first, as an exception per missing file costs more than the look.
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
