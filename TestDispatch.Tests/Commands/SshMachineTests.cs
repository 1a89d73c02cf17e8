using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Commands;

/// <summary>
/// The ssh transport is not built yet: an ssh machine may be configured and is listed, but no test meant for it ever
/// runs on this host instead. Dispatch and plans are refused up front; a run that reaches one anyway fails unrun.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SshMachineTests : IDisposable
{
    private readonly CliHarness _cli = new(machinesJson: """
        [ { "Name": "local-1", "Transport": "local", "Tags": ["x86"] },
          { "Name": "rig-07", "Transport": "ssh", "Host": "rig-07.lab.invalid", "Tags": ["x86", "gpu"] } ]
        """);

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Dispatching_to_an_ssh_machine_is_refused_with_transport_unsupported_and_stores_nothing()
    {
        string marker = _cli.Combine("ran");
        string test = _cli.MakeTest("marks", $"touch '{marker}'");

        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "rig-07", "--wait");

        Assert.Equal(ExitCodes.Infrastructure, exit);
        Assert.Equal("", output);
        Assert.Contains("transport_unsupported", error, StringComparison.Ordinal);
        Assert.Contains("rig-07", error, StringComparison.Ordinal);
        Assert.Contains("local-1", error, StringComparison.Ordinal); // where it can run
        Assert.Empty(_cli.OpenLab(startsAgents: false).Runs(RunFilter.All));
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task A_plan_entry_on_an_ssh_machine_or_tags_only_it_has_is_invalid()
    {
        _cli.MakeTest("t", "true");
        string plan = _cli.Combine("tests", "plan.json");
        await File.WriteAllTextAsync(plan, """
            { "entries": [
                { "name": "on-rig", "test_dir": "t", "machine": "rig-07" },
                { "name": "gpu", "test_dir": "t", "tags": ["gpu"] },
                { "name": "fine", "test_dir": "t", "tags": ["x86"] } ] }
            """);

        (int exit, _, string error) = await _cli.Run("batch", "submit", plan);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("plan_invalid", error, StringComparison.Ordinal);
        Assert.Contains("machine 'rig-07' uses the ssh transport", error, StringComparison.Ordinal);
        Assert.Contains("no configured machine that can run tests has all of the tags gpu", error, StringComparison.Ordinal);
        Assert.DoesNotContain("fine", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_that_reaches_an_ssh_machine_anyway_fails_unrun_with_transport_unsupported()
    {
        string marker = _cli.Combine("ran");
        string test = _cli.MakeTest("marks", $"touch '{marker}'");
        Lab lab = _cli.OpenLab();
        // Prepared straight in the store, as an older client could have.
        Run run = lab.Store.Prepare(Request(machine: "rig-07", testDir: test)).Run;
        _ = await lab.DispatchAsync(_cli.MakeTest("starts-the-agent", "true"), "local-1");

        Run ended = await lab.WaitAsync(run.Id);

        Assert.Equal((RunStatus.Failed, ErrorCodes.TransportUnsupported), (ended.Status, ended.ErrorCode));
        Assert.Contains("ssh transport", ended.ErrorMsg, StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "the test meant for rig-07 ran on this host");
    }

    [Fact]
    public async Task Machines_lists_the_ssh_machine_and_doctor_warns_it_cannot_run_tests()
    {
        (_, string machines, _) = await _cli.Run("machines");
        (int exit, string doctor, _) = await _cli.Run("doctor");

        Assert.Contains("rig-07", machines, StringComparison.Ordinal);
        Assert.Equal(0, exit); // a warning, not a failure: the local machines work
        Assert.Contains("rig-07", doctor, StringComparison.Ordinal);
        Assert.Contains("cannot run yet", doctor, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_loop_that_ends_a_run_left_on_an_ssh_machine_takes_no_batch_items_from_the_local_one()
    {
        _cli.MakeTest("slow", "sleep 1");
        string plan = _cli.Combine("tests", "plan.json");
        await File.WriteAllTextAsync(plan, """
            { "entries": [ { "name": "a", "test_dir": "slow", "tags": ["x86"] },
                           { "name": "b", "test_dir": "slow", "tags": ["x86"] },
                           { "name": "c", "test_dir": "slow", "tags": ["x86"] } ] }
            """);
        Lab lab = _cli.OpenLab();
        lab.Store.Prepare(Request(machine: "rig-07", testDir: _cli.Combine("tests", "slow"))); // as an older client could
        Batch submitted = await lab.SubmitBatchAsync(plan);
        using CancellationTokenSource patience = new(TimeSpan.FromSeconds(60));

        Batch ended = await lab.WaitBatchAsync(submitted.Id, patience.Token);

        Assert.All(ended.Items!, i => Assert.True(i.Status == "completed" && i.RanOn == "local-1", $"{i.Name}: {i.Status} on {i.RanOn} ({i.ErrorCode})"));
    }

    [Fact]
    public async Task Entries_only_an_ssh_machine_takes_wait_as_transport_unsupported_and_are_not_rerun()
    {
        Lab lab = _cli.OpenLab();
        RunSpec spec = new(["./run.sh"], TimeSpan.FromMinutes(1));
        string test = _cli.MakeTest("t", "true");
        // As if submitted while rig-07 was still local.
        Engine.Batches.BatchRecord batch = lab.Store.AddBatch("old", "/plans/old.json",
            [new Engine.Batches.BatchEntry { Name = "gpu", TestDir = test, TestDirHash = "h", Tags = ["gpu"], Spec = spec }]);
        using CancellationTokenSource patience = new(TimeSpan.FromSeconds(30));

        DispatchException waited = await Assert.ThrowsAsync<DispatchException>(() => lab.WaitBatchAsync(batch.Id, patience.Token));
        DispatchException rerun = await Assert.ThrowsAsync<DispatchException>(() => lab.RerunBatchAsync(batch.Id, failedOnly: false));

        Assert.Equal(ErrorCodes.TransportUnsupported, waited.ErrorCode);
        Assert.Contains("gpu (tags gpu: transport_unsupported)", waited.Message, StringComparison.Ordinal);
        Assert.Equal("waiting (transport_unsupported)", Format.Status(lab.ShowBatch(batch.Id).Items![0]));
        Assert.Equal(ErrorCodes.PlanInvalid, rerun.ErrorCode);
        Assert.Single(lab.Batches()); // nothing was submitted
    }
}
