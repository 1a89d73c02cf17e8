using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Machines;

/// <summary>
/// Health from the runs' verdicts, with the real agent: infrastructure failures in a row hold a machine, a test's own
/// failures never do, the share cap keeps a bad test from emptying a tag, a passing health check returns a machine, and
/// a retry after an infrastructure failure goes to another machine.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HealthTests : IDisposable
{
    private CliHarness _cli = new(defaults: """ "AgentIdle": "60s", "KillGrace": "1s" """);

    public void Dispose() => _cli.Dispose();

    private string Plan(string entries)
    {
        string path = _cli.Combine($"plan-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, $$"""{ "entries": [ {{entries}} ] }""");
        return path;
    }

    private static string Entries(int count, string testDir, string target, int retries = 0) =>
        string.Join(",", Enumerable.Range(0, count).Select(i => $$"""{ "name": "e{{i}}", "test_dir": "{{testDir}}", {{target}}, "retries": {{retries}} }"""));

    private async Task<JsonElement[]> MachinesAsync()
    {
        (_, string output, _) = await _cli.Run("machines", "--json");
        return [.. JsonDocument.Parse(output).RootElement.EnumerateArray()];
    }

    private async Task<JsonElement> FirstMachineWhenAsync(Func<JsonElement, bool> condition, string what)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            JsonElement first = (await MachinesAsync())[0];
            if (condition(first))
            {
                return first;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}: {first}");
            }
            await Task.Delay(100);
        }
    }

    private static string[] Recent(JsonElement machine) =>
        [.. machine.GetProperty("recent").EnumerateArray().Select(v => $"{v.GetProperty("status").GetString()}:{v.GetProperty("error_code").GetString()}")];

    [Fact]
    public async Task Three_copy_failures_in_a_row_make_a_machine_unhealthy_and_it_takes_no_more_entries()
    {
        string pass = _cli.MakeTest("pass", "exit 0");
        Lab lab = _cli.OpenLab(startsAgents: false);
        await using InProcessAgent agent = new(lab, new HashSet<string> { "local-1" });

        (int exit, string output, string error) = await _cli.Run("batch", "submit", Plan(Entries(3, pass, "\"machine\": \"local-1\"")), "--wait", "--json");

        Assert.True(exit == ExitCodes.TestFailed, error);
        Assert.All(JsonSerializer.Deserialize(output, ContractJson.Default.Batch)!.Items!, i => Assert.Equal(ErrorCodes.CopyFailed, i.ErrorCode));
        JsonElement one = (await MachinesAsync())[0];
        Assert.Equal(("unhealthy", "unhealthy", 3), (one.GetProperty("state").GetString(), one.GetProperty("health").GetString(), one.GetProperty("infra_failures").GetInt32()));
        Assert.Equal(["failed:copy_failed", "failed:copy_failed", "failed:copy_failed"], Recent(one));
        Assert.Contains("3 infrastructure failures in a row", one.GetProperty("health_reason").GetString(), StringComparison.Ordinal);

        (int refused, _, string why) = await _cli.Run("run", pass, "--machine", "local-1");
        Assert.Equal(ExitCodes.MachineBusy, refused);
        Assert.Contains("machine_unhealthy", why, StringComparison.Ordinal);
        (_, string table, _) = await _cli.Run("machines");
        Assert.Matches(@"local-1 .*unhealthy\s+0\s+-\s+unhealthy\s+3\s+EEE\s", table);
    }

    [Fact]
    public async Task Three_test_failures_leave_a_machine_healthy()
    {
        string fail = _cli.MakeTest("fail", "exit 1");
        for (int i = 0; i < 3; i++)
        {
            (int exit, _, string error) = await _cli.Run("run", fail, "--machine", "local-1", "--wait");
            Assert.True(exit == ExitCodes.TestFailed, error);
        }

        JsonElement one = (await MachinesAsync())[0];
        Assert.Equal(("idle", "healthy", 0), (one.GetProperty("state").GetString(), one.GetProperty("health").GetString(), one.GetProperty("infra_failures").GetInt32()));
        Assert.Equal(["failed:", "failed:", "failed:"], Recent(one));
        Assert.Equal(0, (await _cli.Run("run", _cli.MakeTest("pass", "exit 0"), "--machine", "local-1", "--wait")).Exit);
    }

    [Fact]
    public async Task A_test_that_breaks_every_machine_of_a_tag_holds_at_most_half_of_them()
    {
        _cli.Dispose();
        _cli = new CliHarness("""
            [ { "Name": "rig-1", "Transport": "local", "Tags": ["rig"] }, { "Name": "rig-2", "Transport": "local", "Tags": ["rig"] },
              { "Name": "rig-3", "Transport": "local", "Tags": ["rig"] }, { "Name": "rig-4", "Transport": "local", "Tags": ["rig"] } ]
            """);
        // A run.sh that cannot be executed: spawn_failed on every machine, for real.
        string broken = _cli.MakeTest("not-executable", "exit 0");
        File.SetUnixFileMode(Path.Combine(broken, "run.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        (int exit, string output, string error) = await _cli.Run("batch", "submit", Plan(Entries(24, broken, "\"tags\": [\"rig\"]")), "--wait", "--json");

        Assert.True(exit == ExitCodes.TestFailed, error);
        Assert.All(JsonSerializer.Deserialize(output, ContractJson.Default.Batch)!.Items!, i => Assert.Equal(ErrorCodes.SpawnFailed, i.ErrorCode));
        JsonElement[] machines = await MachinesAsync();
        Assert.Equal(2, machines.Count(m => m.GetProperty("health").GetString() == "unhealthy"));
        Assert.Equal(2, machines.Count(m => m.GetProperty("health").GetString() == "failing" && m.GetProperty("state").GetString() == "idle"));
    }

    [Fact]
    public async Task A_passing_health_check_returns_a_machine_to_service_and_a_failing_one_keeps_it_out()
    {
        string flag = _cli.Combine("fixed");
        string check = _cli.MakeTest("health-check", $"[ -e '{flag}' ]");
        File.WriteAllText(_cli.ConfigFile, $$"""
            { "TestDispatch": { "Defaults": { "AgentIdle": "5s", "KillGrace": "1s" }, "Health": { "CheckAfter": "1s" }, "Machines": [
                { "Name": "local-1", "Transport": "local", "Tags": ["local"], "HealthCheck": "{{check}}" },
                { "Name": "local-2", "Transport": "local", "Tags": ["local"] } ] } }
            """);
        Assert.Equal(0, (await _cli.Run("machine", "drain", "local-1", "--reason", "new cable")).Exit);

        (int exit, string output, _) = await _cli.Run("machine", "resume", "local-1");

        Assert.Equal(0, exit);
        Assert.Contains("health check", output, StringComparison.Ordinal);
        JsonElement failed = await FirstMachineWhenAsync(m => m.GetProperty("health").GetString() == "unhealthy", "the failing check to keep local-1 out");
        Assert.Contains("health check", failed.GetProperty("health_reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(ExitCodes.MachineBusy, (await _cli.Run("run", _cli.MakeTest("pass", "exit 0"), "--machine", "local-1")).Exit);

        File.WriteAllText(flag, "");
        JsonElement back = await FirstMachineWhenAsync(m => m.GetProperty("state").GetString() == "idle", "the check, run again after CheckAfter, to pass");
        Assert.Equal("healthy", back.GetProperty("health").GetString());
        Assert.Equal(["failed:", "completed:"], Recent(back));
        Assert.Equal(0, (await _cli.Run("run", _cli.MakeTest("pass", "exit 0"), "--machine", "local-1", "--wait")).Exit);
    }

    [Fact]
    public async Task A_retry_after_an_infrastructure_failure_goes_to_another_machine_even_when_it_must_wait_for_it()
    {
        string gate = _cli.Combine("gate");
        Lab lab = _cli.OpenLab(startsAgents: false);
        await using InProcessAgent agent = new(lab, new HashSet<string> { "local-1" });
        Run occupying = (await lab.DispatchAsync(_cli.MakeTest("gate", $"while [ ! -e '{gate}' ]; do sleep 0.05; done"), "local-2")).Run;
        await Eventually.True(() => lab.Show(occupying.Id).Status == RunStatus.Running, what: "local-2 to be busy");

        Batch batch = await lab.SubmitBatchAsync(Plan(Entries(1, _cli.MakeTest("pass", "exit 0"), "\"tags\": [\"local\"]", retries: 1)));
        await Eventually.True(() => lab.Store.List(new RunFilter(BatchId: batch.Id)) is [{ Run.ErrorCode: ErrorCodes.CopyFailed }], what: "the first try to fail on local-1");
        await Task.Delay(1000); // local-1 is free all this time, and must still not take the retry
        Assert.Single(lab.Store.List(new RunFilter(BatchId: batch.Id)));

        File.WriteAllText(gate, "");
        Batch ended = await lab.WaitBatchAsync(batch.Id).WaitAsync(TimeSpan.FromSeconds(30));
        BatchItem item = Assert.Single(ended.Items!);
        Assert.Equal(("completed", "local-2", 2), (item.Status, item.RanOn, item.Attempts));
    }

    [Fact]
    public async Task A_retry_goes_back_to_the_same_machine_when_it_is_the_only_one_that_may_run_it()
    {
        Lab lab = _cli.OpenLab(startsAgents: false);
        await using InProcessAgent agent = new(lab, new HashSet<string> { "local-1" });

        Batch batch = await lab.SubmitBatchAsync(Plan(Entries(1, _cli.MakeTest("pass", "exit 0"), "\"machine\": \"local-1\"", retries: 1)));
        Batch ended = await lab.WaitBatchAsync(batch.Id).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["local-1", "local-1"], lab.Store.List(new RunFilter(BatchId: batch.Id)).Select(r => r.Run.Machine));
        Assert.Equal(2, Assert.Single(ended.Items!).Attempts);
    }
}
