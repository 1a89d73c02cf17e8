using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;
using Xunit.Abstractions;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// A real full disk (a small tmpfs filled to the brim): commands fail with disk_full and exit 4, never a stack trace;
/// whatever was acknowledged before or while it filled is still there; and once space is freed every command works
/// again, with no 'doctor --repair'.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FullDiskTests(ITestOutputHelper output)
{
    private const int MachineCount = 40;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task Commands_on_a_full_disk_fail_with_disk_full_lose_no_acknowledged_run_and_all_work_once_space_is_freed()
    {
        using SmallDisk disk = await SmallDisk.MountAsync();
        using CliHarness cli = new(Machines(), stateDir: disk.Combine("state"));
        string pass = cli.MakeTest("pass", "exit 0");
        string plan = cli.Combine("plan.json");
        File.WriteAllText(plan, $$"""{ "entries": [ { "name": "pass", "test_dir": "tests/pass", "machine": "m{{MachineCount - 1}}" } ] }""");
        Lab lab = cli.OpenLab(startsAgents: false);
        // No agent runs anything while the disk is full: what is under test is the store and the commands.
        IDisposable pretendAgent = lab.Locks.TryAcquire(lab.Store.Paths.AgentLock)!;
        long filled = disk.Fill(leave: 4096);

        List<string> acknowledged = [];
        (int Exit, string Out, string Err) refused = (0, "", "");
        for (int i = 0; i < MachineCount - 2 && refused.Exit == 0; i++)
        {
            refused = await cli.Exec(["run", cli.MakeTest($"t{i}", "exit 0"), "--machine", $"m{i}"]);
            CliHarness.AssertNoStackTrace(refused.Err);
            if (refused.Exit == 0)
            {
                acknowledged.Add(refused.Out.Trim());
            }
        }
        List<string> batches = [];
        (int Exit, string Out, string Err) batchRefused = (0, "", "");
        for (int i = 0; i < 20 && batchRefused.Exit == 0; i++)
        {
            batchRefused = await cli.Exec(["batch", "submit", plan]);
            CliHarness.AssertNoStackTrace(batchRefused.Err);
            if (batchRefused.Exit == 0)
            {
                batches.Add(batchRefused.Out.Trim());
            }
        }
        (int listed, string runsJson, string listError) = await cli.Exec(["runs", "--json"]);
        output.WriteLine($"filled {filled} bytes; on the full disk {acknowledged.Count} runs and {batches.Count} batches were acknowledged before " +
            $"'run' failed with: {refused.Err.Trim()}");

        Assert.Equal((ExitCodes.Infrastructure, ""), (refused.Exit, refused.Out));
        Assert.StartsWith($"testdispatch: {ErrorCodes.DiskFull}: no space left on the file system holding {lab.Store.Paths.Journal(0)}", refused.Err, StringComparison.Ordinal);
        Assert.Contains("Nothing was recorded.", refused.Err, StringComparison.Ordinal);
        Assert.Equal((ExitCodes.Infrastructure, ""), (batchRefused.Exit, batchRefused.Out));
        Assert.StartsWith($"testdispatch: {ErrorCodes.DiskFull}: ", batchRefused.Err, StringComparison.Ordinal);
        Assert.True(listed == 0, $"'runs' failed on the full disk: {listError}");
        Assert.Equal(acknowledged.Order(), Ids(runsJson).Order());

        disk.Free();
        pretendAgent.Dispose();
        (int ran, _, string runError) = await cli.Exec(["run", pass, "--machine", $"m{MachineCount - 2}", "--wait"]);
        (int batchRan, _, string batchError) = await cli.Exec(["batch", "submit", plan, "--wait"]);
        (int doctor, string report, _) = await cli.Exec(["doctor"]);

        Assert.True(ran == 0, $"'run --wait' after space was freed: exit {ran}: {runError}");
        Assert.True(batchRan == 0, $"'batch submit --wait' after space was freed: exit {batchRan}: {batchError}");
        Assert.True(doctor == 0, report);
        await Eventually.True(() => acknowledged.All(id => lab.Store.Get(id).Run.Status == RunStatus.Completed), Deadline,
            "every run acknowledged on the full disk to be run once space was freed");
        Assert.All(batches, id => Assert.Equal(id, lab.Store.FindBatch(id).Record.Id));
    }

    [SkippableFact]
    public async Task Compaction_on_a_full_disk_fails_no_write_and_happens_once_space_is_freed()
    {
        using SmallDisk disk = await SmallDisk.MountAsync("1m");
        FileSystem fs = new();
        FlockFileLocks locks = new();
        string root = disk.Combine("state");
        const int History = 60; // two journal lines each, ≈ 30 KB of snapshot: more than is left once the disk is full
        RunStore store = new(fs, locks, root, options: new StoreOptions { CompactAfterLines = 2 * History + 1 });
        Dictionary<string, RunStatus> acknowledged = [];
        for (int i = 0; i < History; i++)
        {
            RunRecord done = store.Update(store.Prepare(Request(machine: $"m{i}")).Run.Id, r => Finished(Running(r)));
            acknowledged[done.Id] = done.Run.Status;
        }
        disk.Fill(leave: 4096);

        // Every append that fits is acknowledged, although each one past CompactAfterLines tries (and fails) to compact.
        DispatchException? full = null;
        for (int i = History; full is null; i++)
        {
            try
            {
                Run run = store.Prepare(Request(machine: $"m{i}")).Run;
                acknowledged[run.Id] = run.Status;
            }
            catch (DispatchException e)
            {
                full = e;
            }
        }
        int linesWhileFull = new JournalFile(fs, store.Paths.Journal(0)).ReadFrom(0, 0).Lines;
        DispatchException explicitly = Assert.Throws<DispatchException>(store.Compact);

        Assert.Equal(ErrorCodes.DiskFull, full.ErrorCode);
        Assert.True(linesWhileFull > 2 * History + 1, $"no append got past CompactAfterLines on the full disk ({linesWhileFull} lines)");
        Assert.False(File.Exists(store.Paths.Snapshot), "a snapshot was written on a full disk");
        Assert.False(File.Exists(store.Paths.SnapshotTemp), "a half-written snapshot was left behind");
        Assert.Equal(ErrorCodes.DiskFull, explicitly.ErrorCode);
        Assert.Contains(store.Paths.SnapshotTemp, explicitly.Message, StringComparison.Ordinal);
        AssertHolds(new RunStore(fs, locks, root), acknowledged);

        disk.Free();
        Run after = store.Prepare(Request(machine: "after")).Run; // the append that now compacts
        acknowledged[after.Id] = after.Status;

        Assert.Equal(1, new SnapshotFile(fs, store.Paths).ReadGeneration());
        Assert.False(File.Exists(store.Paths.Journal(0)), "the folded journal was kept");
        AssertHolds(new RunStore(fs, locks, root), acknowledged);
    }

    [SkippableFact]
    public async Task A_run_that_ends_while_the_disk_is_full_is_still_there_and_ends_once_space_is_freed()
    {
        using SmallDisk disk = await SmallDisk.MountAsync();
        using CliHarness cli = new(stateDir: disk.Combine("state"));
        string marker = cli.Combine("finish");
        string test = cli.MakeTest("waits", $"while [ ! -e '{marker}' ]; do sleep 0.05; done\necho done || true\nexit 0");
        (int exit, string id, string error) = await cli.Run("run", test, "--machine", "local-1");
        Assert.True(exit == 0, error);
        id = id.Trim();
        Lab lab = cli.OpenLab(startsAgents: false);
        await Eventually.Get(() => lab.Store.Get(id) is { Process: not null } r ? r : null, Deadline, "the test to start");
        disk.Fill();

        File.WriteAllText(marker, "");
        // The agent records the verdict if the line fits, or fails trying; either way the run is acknowledged and stays.
        await Eventually.True(() => lab.Store.Get(id).Run.Status.IsTerminal() || AgentGone(lab), Deadline, "the agent to record the verdict or give up");
        RunStatus whileFull = lab.Store.Get(id).Run.Status;
        disk.Free();
        (int listed, _, string listError) = await cli.Exec(["runs"]);
        Run ended = (await Eventually.Get(() => lab.Store.Get(id) is { Run.Status: var s } r && s.IsTerminal() ? r : null, Deadline, "the run to end")).Run;
        (int again, _, string againError) = await cli.Exec(["run", test, "--machine", "local-2", "--wait"]);
        (int doctor, string report, _) = await cli.Exec(["doctor"]);
        output.WriteLine($"while the disk was full the run was {whileFull.ToWord()}; once freed it ended {ended.Status.ToWord()} {ended.ErrorCode}: {ended.ErrorMsg}");

        Assert.True(listed == 0, listError);
        CliHarness.AssertNoStackTrace(listError);
        Assert.True(again == 0, $"'run --wait' after space was freed: exit {again}: {againError}");
        Assert.True(doctor == 0, report);
    }

    [SkippableFact]
    public async Task Writes_on_a_disk_gone_read_only_fail_with_state_unwritable_reads_still_work_and_all_work_once_it_is_writable()
    {
        using SmallDisk disk = await SmallDisk.MountAsync();
        using CliHarness cli = new(stateDir: disk.Combine("state"));
        string pass = cli.MakeTest("pass", "exit 0");
        (int first, string id, string firstError) = await cli.Exec(["run", pass, "--machine", "local-1", "--wait"]);
        Assert.True(first == 0, firstError);
        Lab lab = cli.OpenLab(startsAgents: false);
        await Eventually.True(() => AgentGone(lab), Deadline, "the idle agent to exit (it keeps files open for writing)");
        await disk.RemountAsync(readOnly: true);

        (int refused, string output, string error) = await cli.Exec(["run", pass, "--machine", "local-2", "--json"]);
        (int listed, _, string listError) = await cli.Exec(["runs"]);
        await disk.RemountAsync(readOnly: false);
        (int again, _, string againError) = await cli.Exec(["run", pass, "--machine", "local-2", "--wait"]);

        CliHarness.AssertNoStackTrace(error + listError);
        Assert.Equal((ExitCodes.Infrastructure, ""), (refused, output));
        Assert.StartsWith($"testdispatch: {ErrorCodes.StateUnwritable}: cannot ", error, StringComparison.Ordinal);
        Assert.Contains("Read-only file system", error, StringComparison.Ordinal);
        Assert.True(listed == 0, $"'runs' on the read-only disk: {listError}");
        Assert.True(again == 0, againError);
        Assert.Equal(RunStatus.Completed, lab.Show(id.Trim()).Status);
    }

    private static bool AgentGone(Lab lab)
    {
        using IDisposable? probe = lab.Locks.TryAcquire(lab.Store.Paths.AgentLock);
        return probe is not null;
    }

    private static void AssertHolds(RunStore store, Dictionary<string, RunStatus> acknowledged)
    {
        IReadOnlyList<RunRecord> runs = store.List();
        Assert.Equal(acknowledged.Count, runs.Count);
        Assert.All(runs, r => Assert.Equal(acknowledged[r.Id], r.Run.Status));
    }

    private static string Machines() =>
        "[" + string.Join(", ", Enumerable.Range(0, MachineCount).Select(i => $$"""{ "Name": "m{{i}}", "Transport": "local" }""")) + "]";

    private static string[] Ids(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateArray().Select(r => r.GetProperty("id").GetString()!)];
    }
}
