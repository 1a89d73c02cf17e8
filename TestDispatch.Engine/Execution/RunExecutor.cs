using System.Runtime.CompilerServices;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Processes;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Transports;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Takes one run through its life in the agent (docs/DESIGN.md §6): running, launched through its machine's transport unless a
/// wrapper already owns it, followed until the wrapper says the test is over, stopped on cancel or at its time limit
/// (counted from the test's spawn), and recorded terminal only once nothing of it is alive. The agent follows, the
/// wrapper owns: when the agent stops, this returns and leaves the run going, for the next agent to pick up.
/// </summary>
public sealed class RunExecutor(RunStore store, LabConfig config, Func<Machine, ITransport> transports, TimeProvider clock, TimedLog log)
{
    /// <summary>The longest wait between two looks at a run; the wrapper's files and end wake the follower sooner.</summary>
    private static readonly TimeSpan LookEvery = TimeSpan.FromSeconds(1);

    private readonly StoreRetry _retry = new(log);

    /// <summary>How long a run whose machine another engineer's run holds waits before it tries the machine's lock again.</summary>
    private static readonly TimeSpan HeldRetry = TimeSpan.FromSeconds(1);

    private readonly ResultsRecorder _results = new(store, log);

    /// <summary>When this agent began: a run already running from before was marked so by an agent before it.</summary>
    private readonly DateTimeOffset _since = clock.GetUtcNow();

    /// <summary>
    /// Executes a run its machine loop took: pending, or running (a batch item made running as it was taken, or a run
    /// an earlier agent was following). <paramref name="cancel"/> is the user's cancel; <paramref name="agentStopping"/>
    /// ends only the following. A run given up on a machine that stopped answering (it may still run there) is told to
    /// <paramref name="givenUp"/> (where it lives, and why) before its verdict is written, so that no one who sees the run
    /// ended can find its machine free, nor an agent dying between the two lose the hold. A run whose machine another
    /// engineer's run holds (its wrapper found the machine's lock taken) is told to <paramref name="held"/>, which says
    /// whether it leaves the machine (a batch item another free machine of its tags can take: it ends interrupted, its test
    /// never started, and its entry waits again); else it goes back to pending, naming the holder, and tries again until it
    /// takes the machine, is cancelled, or the agent stops.
    /// </summary>
    public async Task ExecuteAsync(RunRecord taken, CancellationToken cancel, CancellationToken agentStopping, Action<RunProcess, string>? givenUp = null,
        Func<LockHolder, RunRecord, bool>? held = null)
    {
        try
        {
            // A run already running, marked so before this agent began, may have a wrapper an agent before this one started
            // without living to record it: it is looked for before anything is launched or given up.
            bool inherited = taken.Run.Status == RunStatus.Running && taken.Run.StartedAt < _since;
            while (await StartAsync(taken, inherited, agentStopping) is { } record)
            {
                CrashPoints.Reached("run-marked-running");
                if (await EndOfAsync(record, inherited, cancel, agentStopping) is not { } ending)
                {
                    return;
                }
                if (ending.HeldBy is { } holder)
                {
                    if (held?.Invoke(holder, record) == true)
                    {
                        await LeaveAsync(record, ending, holder, agentStopping);
                        return;
                    }
                    taken = await BackToWaitingAsync(record, ending, holder, cancel, agentStopping);
                    inherited = false;
                    continue;
                }
                if (ending is { GivenUp: not null, Process: { } process })
                {
                    givenUp?.Invoke(process, ending.Failure?.ErrorMsg ?? "");
                }
                await RecordAsync(record, ending, agentStopping);
                return;
            }
        }
        catch (OperationCanceledException) when (agentStopping.IsCancellationRequested)
        {
            // The agent is stopping: the run goes on without us.
        }
    }

    /// <summary>Marks a pending run running; null when it is no longer to be run (cancelled meanwhile).</summary>
    private async Task<RunRecord?> StartAsync(RunRecord taken, bool inherited, CancellationToken agentStopping)
    {
        RunRecord record = taken.Run.Status != RunStatus.Pending ? taken : await _retry.RunAsync($"start run {taken.Id}", () =>
            store.Update(taken.Id, r => r.Run.Status != RunStatus.Pending ? r : r with
            {
                Run = r.Run with { Status = RunStatus.Running, StartedAt = clock.GetUtcNow(), ErrorCode = "", ErrorMsg = "" },
            }), agentStopping);
        if (record.Run.Status != RunStatus.Running)
        {
            return null;
        }
        if (taken.Run.ErrorCode == ErrorCodes.MachineBusyElsewhere)
        {
            return record; // tried again: the log said so when it began to wait
        }
        log.Write($"run {record.Id} {(record.Process is not null ? "followed again" : inherited ? "taken over" : "started")} on {record.Run.Machine}: {record.Run.TestDir}");
        return record;
    }

    /// <summary>
    /// Fences off a run this agent found no wrapper of (see <see cref="ITransport.FenceAsync"/>): null once no wrapper can start
    /// its test, else the wrapper that made its file first (looked for again while its line is not whole yet).
    /// </summary>
    private static async Task<RunProcess?> FencedAsync(ITransport transport, RunFiles files, CancellationToken agentStopping)
    {
        if (await transport.FenceAsync(files, agentStopping))
        {
            return null;
        }
        for (int look = 0; ; look++)
        {
            RunProcess? found = await transport.FindAsync(files, agentStopping);
            if (found is not null || look == 50)
            {
                return found;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), agentStopping);
        }
    }

    /// <summary>How the run ended; null when the agent stopped first.</summary>
    private async Task<Ending?> EndOfAsync(RunRecord record, bool inherited, CancellationToken cancel, CancellationToken agentStopping)
    {
        Run run = record.Run;
        if ((record.Target ?? config.FindMachine(run.Machine)) is not { } machine)
        {
            return Ending.Failed(ErrorCodes.MachineUnknown, $"machine '{run.Machine}' is not in the configuration; add it back or dispatch elsewhere");
        }
        if (!machine.CanRunTests)
        {
            return Ending.Failed(ErrorCodes.TransportUnsupported, $"{machine.WhyNotRunnable}; the test was not run");
        }
        if (record.Process is { IsLegacy: true } legacy)
        {
            ProcessGroups.Signal(legacy.ProcessGroupId, legacy.StartTicks, Libc.SIGKILL);
            return Ending.Lost($"the agent running this test (pid {legacy.AgentPid}) died, and an older testdispatch ran its tests as its own " +
                "children, so the test died with it; what was left of it was killed");
        }

        ITransport transport = transports(machine);
        // A remote machine keeps the work dir until the finish when the test names reports in it, to bring them back.
        RunFiles files = store.Paths.Files(run.Id) with { ResultPatterns = ResultsRecorder.PatternsOf(run) };
        RunProcess process;
        if (record.Process is { } known)
        {
            process = known;
        }
        else if (inherited && await transport.FindAsync(files, agentStopping) is { } found)
        {
            log.Write($"run {run.Id}: found the wrapper an earlier agent started (pid {found.WrapperPid} in {found.RunDir}); following it");
            process = found;
        }
        else if (cancel.IsCancellationRequested)
        {
            // An agent before this one may have launched the run without living to record it, its launch still on its way on
            // the machine (a remote launch script goes on without its client): fenced off, it can never start the test once
            // the run is recorded ended and its machine free. A wrapper that got there first is followed, and stopped.
            if (!inherited || await FencedAsync(transport, files, agentStopping) is not { } late)
            {
                return Ending.Cancelled();
            }
            log.Write($"run {run.Id}: a wrapper an earlier agent launched started as the run was fenced off (pid {late.WrapperPid}); following it to stop it");
            process = late;
        }
        else
        {
            LaunchResult launch = await transport.LaunchAsync(new LaunchRequest
            {
                Files = files,
                TestDir = run.TestDir,
                Machine = machine,
                Command = record.Spec.Command,
                KillGrace = SettingsOf(record).KillGrace,
                TimeLimit = record.Spec.Timeout,
                LogLimit = SettingsOf(record).LogLimit,
                Holder = new LockHolder
                {
                    User = Environment.UserName,
                    Host = Environment.MachineName,
                    StateDir = store.Paths.Root,
                    RunId = run.Id,
                    TestDir = run.TestDir,
                    Since = clock.GetUtcNow(),
                }.ToLine(),
                Environment = new Dictionary<string, string>
                {
                    ["TESTDISPATCH_RUN_ID"] = run.Id,
                    ["TESTDISPATCH_MACHINE"] = run.Machine,
                    ["TESTDISPATCH_ARTIFACTS"] = run.ArtifactsPath,
                    ["TESTDISPATCH_BATCH_ID"] = run.BatchId ?? "",
                },
            }, agentStopping);
            if (launch.Failure is { } failure)
            {
                return new Ending(null, failure);
            }
            process = launch.Process!;
            CrashPoints.Reached("run-launched");
        }
        return await FollowAsync(record, machine, transport, files, process, fresh: record.Process is null, cancel, agentStopping) is { } ending
            ? ending.GivenUp is null ? ending with { Transport = transport, Files = files, Process = process } : ending
            : null;
    }

    private async Task<Ending?> FollowAsync(RunRecord record, Machine machine, ITransport transport, RunFiles files, RunProcess process, bool fresh,
        CancellationToken cancel, CancellationToken agentStopping)
    {
        TimeSpan grace = SettingsOf(record).KillGrace;
        TimeSpan giveUpAfter = GiveUpAfter(SettingsOf(record));
        TimeSpan limit = record.Spec.Timeout;
        bool recorded = process.ProcessGroupId > 0;
        Task stopping = Task.CompletedTask;
        bool stopAsked = false;
        using CancellationTokenSource wake = CancellationTokenSource.CreateLinkedTokenSource(cancel, agentStopping);
        // A stop still trying to reach a machine that stopped answering is called off when the run is given up.
        using CancellationTokenSource stopGivenUp = new();
        DateTimeOffset limitAt = (record.Run.StartedAt ?? clock.GetUtcNow()) + limit;
        string? queuedWhy = null;
        WrapperState state;
        while (true)
        {
            StrongBox<Exception?> lookError = new();
            if (await LookAsync(transport, files, process, () => cancel.IsCancellationRequested || clock.GetUtcNow() >= limitAt, giveUpAfter, lookError, agentStopping) is not { } looked)
            {
                await stopGivenUp.CancelAsync();
                await stopping.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                return GivenUp(machine, process, cancel.IsCancellationRequested, giveUpAfter, lookError.Value) with { Process = process };
            }
            state = looked;
            if (state.BootId != process.BootId)
            {
                // Every pid recorded is meaningless now: nothing to stop, only the work dir to clear.
                await transport.FinishAsync(files, process, machine, agentStopping);
                return Ending.Lost($"{machine.Name} restarted while the test ran (its boot id changed), so nothing of the test is left");
            }
            if (!state.Done && !state.WrapperAlive)
            {
                // A wrapper seen gone before it was done is confirmed by a second look before its run is given up as
                // lost: under heavy load one look at /proc has been seen to miss a live wrapper.
                await Task.Delay(TimeSpan.FromMilliseconds(200), agentStopping);
                state = await LookAsync(transport, files, process, null, giveUpAfter, new StrongBox<Exception?>(), agentStopping) ?? state;
            }
            if (state.Done || !state.WrapperAlive)
            {
                break;
            }
            if (state.Queued is { } queued && !cancel.IsCancellationRequested)
            {
                if (await QueuedAsync(record, machine, process, queued, queuedWhy, agentStopping) is not { } why)
                {
                    // Cancelled while it waited (a pending run ends at once): its job goes too.
                    await transport.StopAsync(files, process, RunWrapper.Cancel, grace, agentStopping);
                    return Ending.Cancelled();
                }
                queuedWhy = why;
            }
            if (!recorded && state.Test is not null)
            {
                process = Started(record.Id, process, state);
                recorded = true;
                CrashPoints.Reached("run-process-recorded");
            }
            TimeSpan most = LookEvery;
            if (!stopAsked && state.Exit is null)
            {
                string? reason = cancel.IsCancellationRequested ? RunWrapper.Cancel
                    : state.Test is { } test && state.Uptime - test.Uptime >= limit.TotalSeconds ? RunWrapper.Timeout
                    : null;
                if (reason is not null)
                {
                    log.Write($"run {record.Id}: stopping it ({reason}): SIGTERM, then SIGKILL after {Duration.Format(grace)}");
                    stopping = transport.StopAsync(files, process, reason, grace, stopGivenUp.Token);
                    stopAsked = true;
                }
                else if (state.Test is { } running)
                {
                    most = TimeSpan.FromSeconds(Math.Clamp(limit.TotalSeconds - (state.Uptime - running.Uptime), 0.01, most.TotalSeconds));
                }
            }
            agentStopping.ThrowIfCancellationRequested();
            // Once a stop is asked for, the cancel that asked must not wake the follower again and again.
            await transport.WaitAsync(files, process, most, stopAsked ? agentStopping : wake.Token);
        }

        await stopping;
        if (!recorded && process.JobId != "" && state.Test is not null)
        {
            // A test over before any look saw it run (most are short): a job's start is still its test's, not its submission.
            process = Started(record.Id, process, state);
        }
        CrashPoints.Reached("run-ended");
        if (!state.Done)
        {
            // The wrapper is gone before it was done: stop what is left of the run ourselves, then read what it wrote.
            await transport.StopAsync(files, process, RunWrapper.Cleanup, grace, agentStopping);
            state = await LookAsync(transport, files, process, null, giveUpAfter, new StrongBox<Exception?>(), agentStopping) ?? state;
        }
        // A local run's work dir (where its manifest's report patterns point) goes in FinishAsync; a remote run's artifacts, and
        // the reports its patterns match, come back in it.
        bool local = machine.Transport == TransportKind.Local;
        RunResults? results = local && state.Test is not null ? _results.Read(record.Run, files, Path.Combine(process.RunDir, "work"), agentStopping) : null;
        ExecutionResult? finish = await transport.FinishAsync(files, process, machine, agentStopping);
        if (!local && state.Test is not null)
        {
            results = _results.Read(record.Run, files, files.Reports, agentStopping);
            RemoveReports(record.Id, files);
        }
        if (local && (state.Exit is null || state.Test is null) && DiskSpace.IsFull(files.Directory))
        {
            // The wrapper could not write its files: the controller's disk, never the test or the machine.
            return Ending.Failed(ErrorCodes.DiskFull, $"the controller's disk holding {files.Directory} is full ({ByteSize.Format(DiskSpace.FreeAt(files.Directory) ?? 0)} " +
                "free): the run wrapper could not write its files, so the test did not run; free space there (or 'testdispatch prune'), then run it again");
        }
        if (state.NoLock is { } noLock)
        {
            return Ending.Failed(ErrorCodes.MachineLockUnavailable, $"{machine.Name} cannot be locked against other engineers' runs: {noLock}; the test was " +
                "not run, as it would not be protected ('testdispatch doctor' checks every machine)");
        }
        if (state.Held is { } heldBy)
        {
            return new Ending(state, null) { HeldBy = LockHolder.Parse(heldBy) };
        }
        if (process.JobId != "" && state.Exit is null)
        {
            return cancel.IsCancellationRequested && state.Test is null ? Ending.Cancelled()
                : state.JobEnd is { } lost ? Ending.Failed(lost.ErrorCode, lost.Message)
                : Ending.Failed(ErrorCodes.JobLost, $"Slurm job {process.JobId} ended without the run wrapper's verdict");
        }
        if (state is { JobEnd: { } end, Stop.Reason: RunWrapper.Signalled })
        {
            return Ending.Failed(end.ErrorCode, end.Message);
        }
        if (state.Exit is null)
        {
            return fresh && !recorded && state.Test is null
                ? Ending.Failed(ErrorCodes.SpawnFailed, $"the run wrapper ended without starting the test{state.WrapperEnd}; the run's log says why")
                : machine.Transport == TransportKind.Ssh
                    ? Ending.Failed(ErrorCodes.RemoteLost, $"the run's tree on {machine.Name} ({process.RunDir}) vanished: its run wrapper (pid " +
                        $"{process.WrapperPid}) is gone and never recorded how the test ended; what was left of the test was stopped")
                : Ending.Lost($"the run wrapper (pid {process.WrapperPid} on {machine.Name}) is gone and never recorded how the test ended " +
                    $"({(state.WrapperStatus is null ? "it was killed" : state.WrapperEnd.Trim(' ', '(', ')'))}); what was left of the test was stopped", state.Survivors);
        }
        if (state.Test is null)
        {
            return Ending.Failed(ErrorCodes.SpawnFailed, $"the test's process could not be started (status {state.Exit.Status}); the run's log says why");
        }
        return new Ending(state, finish)
        {
            Results = results,
            DiskFull = state.Log == RunWrapper.LogFull,
            LogDisk = local ? $"the controller's, under {files.Directory}" : $"{machine.Name}'s, under {process.RunDir}",
        };
    }

    /// <summary>
    /// How long a machine that stopped answering is still waited for once its run should be over (cancelled, or past its
    /// time limit), before the run is given up: a dropped connection or a rebooting switch costs a reconnect, never the
    /// run, but a rig that was switched off must not keep a cancel, a <c>--wait</c> or its batch waiting for ever.
    /// </summary>
    private static TimeSpan GiveUpAfter(RunSettings settings) => settings.KillGrace + settings.UnreachableGrace;

    /// <summary>The configuration the run was dispatched under (the agent's own for a run recorded before runs carried it).</summary>
    private RunSettings SettingsOf(RunRecord record) => record.Spec.Settings ?? config.RunSettings;

    /// <summary>
    /// A look at the run, tried again for as long as its machine does not answer; null once <paramref name="mayGiveUp"/>
    /// has said so for <paramref name="giveUpAfter"/> of failed looks in a row (the last failure's message in <paramref name="error"/>).
    /// </summary>
    private async Task<WrapperState?> LookAsync(ITransport transport, RunFiles files, RunProcess process, Func<bool>? mayGiveUp, TimeSpan giveUpAfter,
        StrongBox<Exception?> error, CancellationToken agentStopping)
    {
        DateTimeOffset? due = null;
        for (int failures = 0; ; failures++)
        {
            try
            {
                return await transport.LookAsync(files, process, agentStopping);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (failures == 0)
                {
                    log.Write($"could not look at the run in {process.RunDir} on {process.Host}: {e.Message}; trying again");
                }
                error.Value = e;
                if (mayGiveUp?.Invoke() == true)
                {
                    due ??= clock.GetUtcNow();
                    if (clock.GetUtcNow() - due >= giveUpAfter)
                    {
                        return null;
                    }
                }
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, 0.2 * (failures + 1))), agentStopping);
            }
        }
    }

    /// <summary>
    /// The run given up on a machine that does not answer: interrupted when it was cancelled, timeout when past its limit,
    /// with transport_unreachable (an infrastructure failure, for the machine's health) and what may be left there.
    /// </summary>
    private Ending GivenUp(Machine machine, RunProcess process, bool cancelled, TimeSpan giveUpAfter, Exception? error)
    {
        RunStatus status = cancelled ? RunStatus.Interrupted : RunStatus.Timeout;
        if (error is not null && IoErrors.Errno(error) is Libc.ENOSPC or Libc.EDQUOT)
        {
            // The machine answers; the controller had no room for what it sent.
            string full = $"the controller's disk has been full for {Duration.Format(giveUpAfter)} since the run was " +
                $"{(cancelled ? "cancelled" : "due to end at its time limit")} ({error.Message}): its log could not be brought back, so it was given " +
                $"up; what is left of it on {machine.Name} is stopped once there is room again";
            log.Write($"run in {process.RunDir} on {machine.Name}: given up ({full})");
            return Ending.Failed(ErrorCodes.DiskFull, full) with { GivenUp = status };
        }
        string why = $"{machine.Name} has not answered for {Duration.Format(giveUpAfter)} since the run was " +
            $"{(cancelled ? "cancelled" : "due to end at its time limit")} ({error?.Message}); it was given up: the test may still be " +
            $"running there, in {process.RunDir}";
        log.Write($"run in {process.RunDir} on {machine.Name}: given up ({why})");
        return Ending.Failed(ErrorCodes.TransportUnreachable, why) with { GivenUp = cancelled ? RunStatus.Interrupted : RunStatus.Timeout };
    }

    /// <summary>
    /// Puts a run whose machine another engineer's run holds back to pending, naming the holder: what its wrapper left goes,
    /// and after a moment (or a cancel) the run as it is then is returned, for another try at the machine's lock.
    /// </summary>
    private async Task<RunRecord> BackToWaitingAsync(RunRecord record, Ending ending, LockHolder holder, CancellationToken cancel, CancellationToken agentStopping)
    {
        await ForgetAsync(record, ending, agentStopping);
        string why = $"{record.Run.Machine} is held by {holder}; this run waits, and takes it as soon as it is free";
        if (record.Run.ErrorMsg != why)
        {
            log.Write($"run {record.Id}: waiting: {why}");
        }
        // Not fsync'd: after a crash the run is found running with no wrapper, and launched again, which is what waiting does.
        RunRecord waiting = await _retry.RunAsync($"put run {record.Id} back to wait for {record.Run.Machine}", () =>
            store.Update(record.Id, r => r.Run.Status != RunStatus.Running ? r : r with
            {
                Run = r.Run with { Status = RunStatus.Pending, StartedAt = null, ErrorCode = ErrorCodes.MachineBusyElsewhere, ErrorMsg = why },
                Process = null,
            }, durable: false), agentStopping);
        using CancellationTokenSource wake = CancellationTokenSource.CreateLinkedTokenSource(cancel, agentStopping);
        try
        {
            await Task.Delay(HeldRetry, wake.Token);
        }
        catch (OperationCanceledException) when (!agentStopping.IsCancellationRequested)
        {
            // Cancelled: the next start finds it so, and ends it without starting the test.
        }
        return store.Get(waiting.Id);
    }

    /// <summary>
    /// Ends a batch item's run whose machine another engineer's run holds, its test never started, so that its entry waits
    /// again and goes to a free machine of its tags (<see cref="ErrorCodes.MachineBusyElsewhere"/> on an interrupted run).
    /// </summary>
    private async Task LeaveAsync(RunRecord record, Ending ending, LockHolder holder, CancellationToken agentStopping)
    {
        await ForgetAsync(record, ending, agentStopping);
        string why = $"{record.Run.Machine} is held by {holder}; the test did not start there, and its batch entry went to another free machine of its tags";
        log.Write($"run {record.Id}: {why}");
        await _retry.RunAsync($"end run {record.Id}, which leaves {record.Run.Machine} to its holder", () =>
            store.Update(record.Id, r => r.Run.Status != RunStatus.Running ? r : r with
            {
                Run = r.Run with
                {
                    Status = RunStatus.Interrupted, StartedAt = null, EndedAt = clock.GetUtcNow(), ErrorCode = ErrorCodes.MachineBusyElsewhere, ErrorMsg = why,
                },
                Process = null,
            }), agentStopping);
    }

    /// <summary>The reports a remote machine brought back go once read, as a local run's work dir does; a failure is logged.</summary>
    private void RemoveReports(string runId, RunFiles files)
    {
        try
        {
            if (Directory.Exists(files.Reports))
            {
                Directory.Delete(files.Reports, recursive: true);
            }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            log.Write($"run {runId}: could not remove the reports brought back into {files.Reports}: {e.Message}");
        }
    }

    /// <summary>Removes what the run's wrapper left, when it never started the test; a failure is logged.</summary>
    private async Task ForgetAsync(RunRecord record, Ending ending, CancellationToken agentStopping)
    {
        if (ending is { Transport: { } transport, Files: { } files, Process: { } process })
        {
            try
            {
                await transport.ForgetAsync(files, process, agentStopping);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Write($"run {record.Id}: could not remove the run wrapper's files in {process.RunDir}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Records where the test runs, for an agent after this one; a failure to record it is logged, never allowed to cost the run.
    /// A run a scheduler queued (Slurm) is running from here on, since <paramref name="testStarted"/>: when its test started, not
    /// when its job was submitted.
    /// </summary>
    private void RecordProcess(string runId, RunProcess process, DateTimeOffset? testStarted = null, string? node = null)
    {
        try
        {
            // No fsync: every process on this host reads it from the page cache, and after a power cut the boot id differs anyway.
            store.Update(runId, r => r.Run.Status.IsTerminal() ? r : r with
            {
                Process = process,
                Run = testStarted is { } started
                    ? r.Run with { Status = RunStatus.Running, StartedAt = started, ErrorCode = "", ErrorMsg = "", Node = node }
                    : r.Run,
            }, durable: false);
        }
        catch (Exception e) when (e is DispatchException or IOException or UnauthorizedAccessException)
        {
            log.Write($"run {runId}: could not record where its test runs (group {process.ProcessGroupId}): {e.Message}");
        }
    }

    /// <summary>The run's test has started (<paramref name="state"/> says so): where it runs is recorded, and, for a Slurm job, when it started.</summary>
    private RunProcess Started(string runId, RunProcess process, WrapperState state)
    {
        TestStart started = state.Test!;
        RunProcess running = process with
        {
            ProcessGroupId = started.ProcessGroupId, StartTicks = started.StartTicks, StartUptime = started.Uptime,
            Host = state.Node is { } node ? $"slurm:{node}" : process.Host,
        };
        RecordProcess(runId, running, running.JobId == "" ? null : clock.GetUtcNow() - TimeSpan.FromSeconds(Math.Max(0, state.Uptime - started.Uptime)), state.Node);
        return running;
    }

    /// <summary>
    /// A run whose job the scheduler keeps waiting (Slurm's reason: Resources, Priority…) is pending, saying why, as a run
    /// waiting for a machine another engineer holds is: once per reason. Returns the reason, or null when the run ended
    /// meanwhile (a cancel ends a pending run at once).
    /// </summary>
    private async Task<string?> QueuedAsync(RunRecord record, Machine machine, RunProcess process, string reason, string? told, CancellationToken agentStopping)
    {
        string why = $"{machine.Name} is queued in Slurm as job {process.JobId} ({reason}); this run starts when Slurm gives it a node";
        if (why == told)
        {
            return store.Get(record.Id).Run.Status.IsTerminal() ? null : why;
        }
        log.Write($"run {record.Id}: waiting: {why}");
        RunRecord waiting = await _retry.RunAsync($"put run {record.Id} back to wait in Slurm's queue", () =>
            store.Update(record.Id, r => r.Run.Status.IsTerminal() ? r : r with
            {
                Run = r.Run with { Status = RunStatus.Pending, StartedAt = null, ErrorCode = ErrorCodes.MachineBusyElsewhere, ErrorMsg = why },
                Process = null,
            }, durable: false), agentStopping);
        return waiting.Run.Status.IsTerminal() ? null : why;
    }

    /// <summary>Records the verdict, retrying until the store takes it; then the wrapper's files go.</summary>
    private async Task RecordAsync(RunRecord record, Ending ending, CancellationToken agentStopping)
    {
        Run ended = Verdict(record.Run, ending, record.Spec.Timeout) with { EndedAt = clock.GetUtcNow() };
        if (ending.Results is { } results)
        {
            // Kept before the verdict is: whoever sees the run ended with counts finds its cases.
            ended = _results.Keep(ended, results, store.Paths.Log(record.Id));
        }
        await _retry.RunAsync($"record the verdict of run {record.Id} ({ended.Status.ToWord()})", () =>
            // The start as recorded last: a Slurm job's test starts after the run was taken (see Started).
            store.Update(record.Id, r => r.Run.Status.IsTerminal() ? r : r with
            {
                Run = ended with { StartedAt = r.Run.StartedAt ?? ended.StartedAt, Node = r.Run.Node }, Leftovers = ending.Survivors is [_, ..] s ? s : null,
            }),
            agentStopping);
        CrashPoints.Reached("verdict-recorded");
        log.Write($"run {record.Id} {ended.Status.ToWord()} exit={ended.ExitCode?.ToString() ?? "-"} {ended.ErrorCode}");
        if (ending is { Transport: { } transport, Files: { } files, Process: { } process })
        {
            try
            {
                await transport.ForgetAsync(files, process, agentStopping);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Write($"run {record.Id}: could not remove the run wrapper's files in {process.RunDir}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// The run as its ending decides: a stop we began while the test was alive decides the status (timeout, or
    /// interrupted for a cancel); else an infrastructure error; else the test's exit status.
    /// </summary>
    internal static Run Verdict(Run run, Ending ending, TimeSpan limit) =>
        Judge(run, ending, limit) is var judged && ending.State?.Log is RunWrapper.LogCut or RunWrapper.LogFull ? judged with { LogCut = true } : judged;

    private static Run Judge(Run run, Ending ending, TimeSpan limit)
    {
        if (ending.LostWhy is { } why)
        {
            return run with { Status = RunStatus.Interrupted, ExitCode = null, ErrorCode = ErrorCodes.AgentLost, ErrorMsg = why };
        }
        if (ending.State is not { Exit: { } exit } state)
        {
            ExecutionResult failure = ending.Failure!;
            if (ending.GivenUp is { } status)
            {
                return run with { Status = status, ExitCode = null, ErrorCode = failure.ErrorCode, ErrorMsg = failure.ErrorMsg };
            }
            return failure.ErrorCode == ErrorCodes.Interrupted
                ? run with { Status = RunStatus.Interrupted, ErrorCode = ErrorCodes.Interrupted, ErrorMsg = failure.ErrorMsg }
                : failure.ErrorCode == ErrorCodes.Timeout
                ? run with { Status = RunStatus.Timeout, ExitCode = null, ErrorCode = ErrorCodes.Timeout, ErrorMsg = failure.ErrorMsg }
                : run with { Status = RunStatus.Failed, ExitCode = null, ErrorCode = failure.ErrorCode, ErrorMsg = failure.ErrorMsg };
        }
        if (state.Stop is { Reason: RunWrapper.Timeout or RunWrapper.Cancel } stop && stop.Uptime <= exit.Uptime)
        {
            return stop.Reason == RunWrapper.Timeout
                ? run with
                {
                    Status = RunStatus.Timeout, ExitCode = exit.Status, ErrorCode = ErrorCodes.Timeout,
                    ErrorMsg = $"the test ran longer than its {Duration.Format(limit)} time limit and was stopped",
                }
                : run with { Status = RunStatus.Interrupted, ExitCode = exit.Status, ErrorCode = ErrorCodes.Interrupted, ErrorMsg = "cancelled; the test was stopped" };
        }
        if (ending.Failure is { } late)
        {
            return run with { Status = RunStatus.Failed, ExitCode = exit.Status, ErrorCode = late.ErrorCode, ErrorMsg = late.ErrorMsg };
        }
        if (ending.DiskFull && exit.Status != 0)
        {
            // Writes failed for want of room (its log's, or the test's own in its work dir), which is enough to fail a test:
            // the disk is to blame, not the test.
            return run with
            {
                Status = RunStatus.Failed, ExitCode = exit.Status, ErrorCode = ErrorCodes.DiskFull,
                ErrorMsg = $"the disk holding the run ({ending.LogDisk}) was full: what the test wrote could not all be written, and its " +
                    $"failure (exit {exit.Status}) may be the disk's, not the test's; free space there, then run it again",
            };
        }
        return run with { Status = exit.Status == 0 ? RunStatus.Completed : RunStatus.Failed, ExitCode = exit.Status, ErrorCode = "", ErrorMsg = "" };
    }

}

/// <summary>
/// How a run ended, as the agent found it: what the wrapper wrote (<see cref="State"/>, with a failure that came after,
/// such as artifacts not brought back), why the test never ran (<see cref="Failure"/>), or why nothing is left of it
/// (<see cref="LostWhy"/>).
/// </summary>
internal sealed record Ending(WrapperState? State, ExecutionResult? Failure, string? LostWhy = null,
    IReadOnlyList<int>? Leftover = null, ITransport? Transport = null, RunFiles? Files = null, RunProcess? Process = null)
{
    /// <summary>The status of a run given up on a machine that stopped answering (interrupted or timeout); null otherwise.</summary>
    public RunStatus? GivenUp { get; init; }

    /// <summary>Where the run was, for people: the controller's state dir, or a machine's work root.</summary>
    public string LogDisk { get; init; } = "";

    /// <summary>That disk was full while the run wrote there (its log could not all be written, or no room is left).</summary>
    public bool DiskFull { get; init; }

    /// <summary>Another engineer's run holds the machine's lock: the test was not started, and the run waits for it.</summary>
    public LockHolder? HeldBy { get; init; }

    /// <summary>The test results its reports gave, null when it left none.</summary>
    public RunResults? Results { get; init; }

    public IReadOnlyList<int>? Survivors => Leftover ?? State?.Survivors;

    public static Ending Failed(string errorCode, string message) => new(null, ExecutionResult.Failure(errorCode, message));

    public static Ending Cancelled() => Failed(ErrorCodes.Interrupted, "cancelled before the test started");

    public static Ending Lost(string why, IReadOnlyList<int>? survivors = null) => new(null, null, why, survivors);
}
