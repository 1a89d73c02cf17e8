using TestDispatch.Engine;
using TestDispatch.Engine.Processes;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// A store that cannot write for a while (a real full disk: a small tmpfs filled to the brim) never takes the agent
/// down: a verdict it cannot write is kept and written once it can, and the other machines go on meanwhile.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AgentStoreFaultTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task A_verdict_the_full_disk_refuses_is_written_once_space_is_freed_and_the_agent_serves_on()
    {
        using SmallDisk disk = await SmallDisk.MountAsync("4m");
        using CliHarness cli = new(stateDir: disk.Combine("state"));
        string releaseA = cli.Combine("release-a");
        string releaseB = cli.Combine("release-b");
        // A long argument makes every journal line of run a longer than a page: its verdict cannot fit in what the disk has left.
        (_, string a, _) = await cli.Run("run", cli.MakeTest("a", $"while [ ! -e '{releaseA}' ]; do sleep 0.05; done\nexit 0"), "--machine", "local-1",
            "--", "./run.sh", new string('x', 6000));
        (_, string b, _) = await cli.Run("run", cli.MakeTest("b", $"while [ ! -e '{releaseB}' ]; do sleep 0.05; done\nexit 0"), "--machine", "local-2");
        (a, b) = (a.Trim(), b.Trim());
        Lab lab = cli.OpenLab(startsAgents: false);
        RunRecord runA = await Eventually.Get(() => lab.Store.Get(a) is { Process.ProcessGroupId: > 0 } r ? r : null, Deadline, "run a to start");
        await Eventually.True(() => lab.Store.Get(b).Process is { ProcessGroupId: > 0 }, Deadline, "run b to start");
        int agent = runA.Process!.AgentPid;
        long agentStart = ProcFs.StartTicks(agent)!.Value;

        disk.Fill();
        await File.WriteAllTextAsync(releaseA, "");
        await Eventually.True(() => File.Exists(Path.Combine(runA.Process.RunDir, "done")), Deadline, "run a's test to end on the full disk");
        // Free the space only once the agent has tried the verdict and been refused: before, the test raced the agent's first try.
        await Eventually.True(() => File.ReadAllText(lab.Store.Paths.AgentLog).Contains($"could not record the verdict of run {a}", StringComparison.Ordinal),
            Deadline, "the agent to be refused run a's verdict");
        RunStatus whileFull = lab.Store.Get(a).Run.Status;
        disk.Free();
        Run endedA = (await Eventually.Get(() => lab.Store.Get(a) is { Run.Status: var s } r && s.IsTerminal() ? r : null, Deadline, "run a's verdict")).Run;
        await File.WriteAllTextAsync(releaseB, "");
        Run endedB = (await Eventually.Get(() => lab.Store.Get(b) is { Run.Status: var s } r && s.IsTerminal() ? r : null, Deadline, "run b's verdict")).Run;

        Assert.Equal(RunStatus.Running, whileFull);
        Assert.Equal((RunStatus.Completed, 0, ""), (endedA.Status, endedA.ExitCode, endedA.ErrorCode));
        Assert.Equal((RunStatus.Completed, 0, ""), (endedB.Status, endedB.ExitCode, endedB.ErrorCode));
        Assert.True(ProcFs.IsRunning(agent, agentStart), "the same agent served throughout");
        Assert.Contains($"could record the verdict of run {a} (completed) after", await File.ReadAllTextAsync(lab.Store.Paths.AgentLog),
            StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_test_that_fills_the_disk_and_exits_ends_at_once_not_after_the_grace_and_more()
    {
        using SmallDisk disk = await SmallDisk.MountAsync("4m");
        // A kill grace far past the deadline: a cleanup that waited for a stop claim it could not write (grace + 10 s) misses it.
        using CliHarness cli = new(stateDir: disk.Combine("state"), defaults: """ "AgentIdle": "3s", "KillGrace": "10m" """);
        // The test's own writes fill the disk: the wrapper's cleanup after it must not wait for a stop claim it could not write.
        string test = cli.MakeTest("filler", "head -c 20000000 /dev/zero > big 2>/dev/null\necho filled\nexit 0");

        (int exit, string output, string error) = await cli.Run("run", test, "--machine", "local-1", "--wait").WaitAsync(Deadline);

        Assert.True(exit == 0, output + error);
    }
}
