using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Processes;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// Runs outlive agents (docs/DESIGN.md §6, invariant 4): an agent that dies or is stopped costs no run, and the next one takes
/// every running run over: wrapper alive → follow it; exit recorded → record that verdict; neither → agent_lost.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AdoptionTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary>A test that prints a line, waits for <c>release</c> to exist, prints another and exits <paramref name="exit"/>.</summary>
    private (string TestDir, string Release) Waiting(string name, int exit = 0)
    {
        string release = _cli.Combine($"release-{name}");
        return (_cli.MakeTest(name, $"echo first\nwhile [ ! -e '{release}' ]; do sleep 0.05; done\necho second\nexit {exit}"), release);
    }

    private async Task<RunRecord> StartedAsync(Lab lab, string id) =>
        await Eventually.Get(() => lab.Store.Get(id) is { Process.ProcessGroupId: > 0 } r ? r : null, what: $"run {id} to start");

    private static async Task AgentGoneAsync(Lab lab) =>
        await Eventually.True(() => lab.Locks.TryAcquire(lab.Store.Paths.AgentLock) is { } free && Release(free), what: "agent.lock to be free");

    private Command Agent(string? bootIdFile = null) => Cli.Wrap(CliHarness.Program[0])
        .WithArguments(["agent", "--state-dir", _cli.StateDir, "--config", _cli.ConfigFile])
        .WithEnvironmentVariables(e => e.Set(ProcFs.BootIdFileVariable, bootIdFile))
        .WithValidation(CommandResultValidation.None);

    /// <summary>How many times the journal recorded this run ended: a run completes exactly once.</summary>
    private int TimesRecordedEnded(string id, string status) => Directory.EnumerateFiles(_cli.StateDir, "journal.*.jsonl")
        .SelectMany(File.ReadLines)
        .Count(line => line.Contains($"\"id\":\"{id}\"", StringComparison.Ordinal) && line.Contains($"\"status\":\"{status}\"", StringComparison.Ordinal));

    [Fact]
    public async Task An_agent_killed_mid_run_costs_nothing_the_next_agent_records_the_run_once_with_its_whole_log()
    {
        (string test, string release) = Waiting("survivor", exit: 3);
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        RunRecord running = await StartedAsync(lab, id);

        System.Diagnostics.Process.GetProcessById(running.Process!.AgentPid).Kill();
        await AgentGoneAsync(lab);
        bool testAlive = ProcFs.IsRunning(running.Process.ProcessGroupId, running.Process.StartTicks);
        await File.WriteAllTextAsync(release, "");
        Run ended = await lab.WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(testAlive, "the test outlived its agent");
        Assert.Equal((RunStatus.Failed, 3, ""), (ended.Status, ended.ExitCode, ended.ErrorCode));
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
        Assert.Equal(1, TimesRecordedEnded(id, "failed"));
        Assert.Contains($"run {id} followed again", await File.ReadAllTextAsync(lab.Store.Paths.AgentLog), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SIGTERM_ends_the_agent_only_its_runs_go_on_and_the_next_agent_records_them()
    {
        (string test, string release) = Waiting("goes-on");
        Lab withoutAgent = _cli.OpenLab(startsAgents: false);
        Run run = (await withoutAgent.DispatchAsync(test, "local-1")).Run;
        CommandTask<BufferedCommandResult> agent = Agent().ExecuteBufferedAsync();
        RunRecord running = await StartedAsync(withoutAgent, run.Id);

        await Cli.Wrap("kill").WithArguments(["-TERM", agent.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ExecuteAsync();
        BufferedCommandResult stopped = await agent.Task.WaitAsync(TimeSpan.FromSeconds(20));
        bool testAlive = ProcFs.IsRunning(running.Process!.ProcessGroupId, running.Process.StartTicks);
        RunStatus afterStop = withoutAgent.Store.Get(run.Id).Run.Status;
        await File.WriteAllTextAsync(release, "");
        Run ended = await _cli.OpenLab().WaitAsync(run.Id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(stopped.ExitCode == TestDispatch.Engine.Execution.Agent.StoppedWithWorkLeft, stopped.StandardOutput + stopped.StandardError);
        Assert.Contains("1 runs go on", stopped.StandardOutput, StringComparison.Ordinal);
        Assert.True(testAlive, "the test outlived the stopped agent");
        Assert.Equal(RunStatus.Running, afterStop);
        Assert.Equal(RunStatus.Completed, ended.Status);
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
    }

    [Fact]
    public async Task A_run_that_ended_while_no_agent_was_up_gets_the_verdict_its_wrapper_recorded()
    {
        (string test, string release) = Waiting("ends-alone", exit: 4);
        Lab withoutAgent = _cli.OpenLab(startsAgents: false);
        Run run = (await withoutAgent.DispatchAsync(test, "local-2")).Run;
        CommandTask<BufferedCommandResult> agent = Agent().ExecuteBufferedAsync();
        RunRecord running = await StartedAsync(withoutAgent, run.Id);
        System.Diagnostics.Process.GetProcessById(agent.ProcessId).Kill();
        await agent.Task;

        await File.WriteAllTextAsync(release, "");
        await Eventually.True(() => File.Exists(Path.Combine(running.Process!.RunDir, "done")), what: "the wrapper to finish on its own");
        RunStatus beforeAnAgent = withoutAgent.Store.Get(run.Id).Run.Status;
        Run ended = await _cli.OpenLab().WaitAsync(run.Id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(RunStatus.Running, beforeAnAgent);
        Assert.Equal((RunStatus.Failed, 4), (ended.Status, ended.ExitCode));
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
        await Eventually.True(() => !File.Exists(Path.Combine(running.Process!.RunDir, "exit")), what: "the wrapper's files to go after the verdict");
    }

    [Fact]
    public async Task A_killed_wrapper_is_agent_lost_and_nothing_of_its_run_is_left()
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string test = _cli.MakeTest("orphaned", $"setsid sleep {sleep} &\nsleep {sleep + 1}\n");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        RunRecord running = await StartedAsync(lab, id);
        await Eventually.True(() => Processes.WithArgument($"sleep {sleep}").Count > 0, what: "the escaped child");

        System.Diagnostics.Process.GetProcessById(running.Process!.WrapperPid).Kill();
        Run ended = await lab.WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.AgentLost), (ended.Status, ended.ErrorCode));
        Assert.Contains("run wrapper", ended.ErrorMsg, StringComparison.Ordinal);
        Assert.Contains("killed by signal 9", ended.ErrorMsg, StringComparison.Ordinal); // the agent that started it saw how it ended
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
        Assert.Empty(Processes.WithArgument($"sleep {sleep + 1}"));
    }

    [Fact]
    public async Task After_a_reboot_a_run_is_agent_lost_and_its_old_pids_are_left_alone()
    {
        string bootId = _cli.Combine("boot_id");
        await File.WriteAllTextAsync(bootId, "before-the-reboot\n");
        (string test, _) = Waiting("rebooted");
        Lab withoutAgent = _cli.OpenLab(startsAgents: false);
        Run run = (await withoutAgent.DispatchAsync(test, "local-1")).Run;
        CommandTask<BufferedCommandResult> first = Agent(bootId).ExecuteBufferedAsync();
        RunRecord running = await StartedAsync(withoutAgent, run.Id);
        System.Diagnostics.Process.GetProcessById(first.ProcessId).Kill();
        await first.Task;

        await File.WriteAllTextAsync(bootId, "after-the-reboot\n");
        BufferedCommandResult second = await Agent(bootId).ExecuteBufferedAsync().Task.WaitAsync(TimeSpan.FromSeconds(30));
        Run ended = withoutAgent.Store.Get(run.Id).Run;
        bool pidsLeftAlone = ProcFs.IsRunning(running.Process!.ProcessGroupId, running.Process.StartTicks);
        Processes.StopRun(running.Process.RunDir, run.Id); // in a real reboot they would be gone

        Assert.True(second.ExitCode == 0, second.StandardOutput);
        Assert.Equal((RunStatus.Interrupted, ErrorCodes.AgentLost), (ended.Status, ended.ErrorCode));
        Assert.Contains("restarted", ended.ErrorMsg, StringComparison.Ordinal);
        Assert.True(pidsLeftAlone, "after a reboot a recorded pid may be anyone's: nothing is signalled");
    }

    [Fact]
    public async Task A_run_whose_directory_is_deleted_mid_run_still_ends_and_nothing_of_it_is_left()
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string release = _cli.Combine("release-deleted");
        string test = _cli.MakeTest("deleted", $"setsid sleep {sleep} &\nwhile [ ! -e '{release}' ]; do sleep 0.05; done\nexit 0");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        RunRecord running = await StartedAsync(lab, id);
        await Eventually.True(() => Processes.WithArgument($"sleep {sleep}").Count > 0, what: "the escaped child");

        Directory.Delete(running.Process!.RunDir, recursive: true);
        await File.WriteAllTextAsync(release, "");
        Run ended = await lab.WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.AgentLost), (ended.Status, ended.ErrorCode));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
        Assert.DoesNotContain("Could not find a part of the path", await File.ReadAllTextAsync(lab.Store.Paths.AgentLog), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_run_dir_that_is_read_only_when_the_test_ends_delays_the_verdict_but_does_not_lose_it()
    {
        (string test, string release) = Waiting("read-only", exit: 4);
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        RunRecord running = await StartedAsync(lab, id);
        string dir = running.Process!.RunDir;
        // A read-only bind mount over the run's directory: as a remount read-only would be, for every file opened from now on.
        BufferedCommandResult bind = await Cli.Wrap("sh").WithArguments(["-c", "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\"", "sh", dir])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Skip.If(bind.ExitCode != 0, $"cannot bind-mount the run dir read-only ({bind.StandardError.Trim()}); the test needs root");
        try
        {
            await File.WriteAllTextAsync(release, "");
            // The test ends while its run dir cannot be written: the wrapper then has a verdict it cannot record yet.
            await Eventually.True(() => !ProcFs.IsRunning(running.Process.ProcessGroupId, running.Process.StartTicks),
                what: "the test to end while its run dir is read-only");
        }
        finally
        {
            await Cli.Wrap("umount").WithArguments(["-l", dir]).WithValidation(CommandResultValidation.None).ExecuteAsync();
        }
        Run ended = await lab.WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((RunStatus.Failed, 4, ""), (ended.Status, ended.ExitCode, ended.ErrorCode));
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
    }

    private static bool Release(IDisposable held)
    {
        held.Dispose();
        return true;
    }
}
