using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Machines;

/// <summary>machine drain and resume through the real CLI, with a real agent running real tests on two local machines.</summary>
[Trait("Category", "Integration")]
public sealed class DrainTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private static Run Parse(string json) => JsonSerializer.Deserialize(json, ContractJson.Default.Run)!;

    private string Gate => _cli.Combine("gate");

    private async Task<Run> OccupyAsync(string machine)
    {
        string test = _cli.MakeTest("gate", $"while [ ! -e '{Gate}' ]; do sleep 0.05; done");
        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", machine, "--json");
        Assert.True(exit == 0, error);
        Run run = Parse(output);
        await Eventually.True(() => _cli.OpenLab(startsAgents: false).Show(run.Id).Status == RunStatus.Running, what: "the gate test to run");
        return run;
    }

    private async Task<JsonElement> MachineJsonAsync(string name)
    {
        (_, string output, _) = await _cli.Run("machines", "--json");
        return JsonDocument.Parse(output).RootElement.EnumerateArray().Single(m => m.GetProperty("name").GetString() == name);
    }

    [Fact]
    public async Task A_drained_machine_finishes_its_run_refuses_new_ones_and_batch_entries_go_to_the_others()
    {
        Run current = await OccupyAsync("local-1");

        (int exit, string output, string error) = await _cli.Run("machine", "drain", "local-1", "--reason", "fan replaced");

        Assert.True(exit == 0, error);
        Assert.Contains("local-1 draining", output, StringComparison.Ordinal);
        JsonElement drained = await MachineJsonAsync("local-1");
        Assert.Equal("draining", drained.GetProperty("state").GetString());
        Assert.Equal("fan replaced", drained.GetProperty("drained").GetProperty("reason").GetString());
        Assert.Equal(Environment.UserName, drained.GetProperty("drained").GetProperty("by").GetString());
        Assert.EndsWith("Z", drained.GetProperty("drained").GetProperty("at").GetString(), StringComparison.Ordinal);

        string pass = _cli.MakeTest("pass", "exit 0");
        (int refused, _, string why) = await _cli.Run("run", pass, "--machine", "local-1", "--queue");
        Assert.Equal(ExitCodes.MachineBusy, refused);
        Assert.Contains("machine_drained", why, StringComparison.Ordinal);
        Assert.Contains("fan replaced", why, StringComparison.Ordinal);

        string plan = _cli.Combine("plan.json");
        File.WriteAllText(plan, $$"""{ "entries": [ {{string.Join(",", Enumerable.Range(0, 4).Select(i => $$"""{ "name": "e{{i}}", "test_dir": "{{pass}}", "tags": ["local"] }"""))}} ] }""");
        (int submitted, string batchJson, string batchError) = await _cli.Run("batch", "submit", plan, "--wait", "--json");
        Assert.True(submitted == 0, batchError);
        Batch batch = JsonSerializer.Deserialize(batchJson, ContractJson.Default.Batch)!;
        Assert.All(batch.Items!, i => Assert.Equal("local-2", i.RanOn));

        File.WriteAllText(Gate, "");
        Assert.Equal(RunStatus.Completed, (await _cli.OpenLab().WaitAsync(current.Id)).Status); // its current run finished
        Assert.Equal("drained", (await MachineJsonAsync("local-1")).GetProperty("state").GetString());
    }

    [Fact]
    public async Task Drain_with_cancel_queue_resolves_every_waiter_as_interrupted_and_resume_takes_work_again()
    {
        Run current = await OccupyAsync("local-1");
        Task<(int Exit, string Out, string Err)>[] waiters = [.. Enumerable.Range(0, 2).Select(i =>
            _cli.Run("run", _cli.MakeTest($"queued-{i}", $"exit {i}"), "--machine", "local-1", "--queue", "--wait"))];
        await Eventually.True(() => _cli.OpenLab(startsAgents: false).Machines()[0].Queue.Count == 2, what: "two runs queued");

        (int exit, string output, string error) = await _cli.Run("machine", "drain", "local-1", "--cancel-queue");

        Assert.True(exit == 0, error);
        Assert.Contains("2 queued runs cancelled", output, StringComparison.Ordinal);
        (int Exit, string Out, string Err)[] ended = await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.All(ended, e => Assert.Equal(ExitCodes.Interrupted, e.Exit));
        Assert.All(ended, e => Assert.Contains("drained with --cancel-queue", e.Err, StringComparison.Ordinal));
        Assert.Equal(RunStatus.Running, _cli.OpenLab(startsAgents: false).Show(current.Id).Status); // the current run is not touched
        File.WriteAllText(Gate, "");
        Assert.Equal(RunStatus.Completed, (await _cli.OpenLab().WaitAsync(current.Id)).Status);

        (int resumed, string back, _) = await _cli.Run("machine", "resume", "local-1", "--json");
        Assert.Equal(0, resumed);
        using JsonDocument json = JsonDocument.Parse(back);
        Assert.Equal(("idle", JsonValueKind.Null), (json.RootElement.GetProperty("state").GetString(), json.RootElement.GetProperty("drained").ValueKind));
        (int again, _, string againError) = await _cli.Run("run", _cli.MakeTest("after", "exit 0"), "--machine", "local-1", "--wait");
        Assert.True(again == 0, againError);
    }

    [Fact]
    public async Task A_queue_held_by_a_drain_waits_for_the_resume_and_then_runs()
    {
        await OccupyAsync("local-1");
        string queued = (await _cli.Run("run", _cli.MakeTest("held", "exit 0"), "--machine", "local-1", "--queue")).Out.Trim();
        await _cli.Run("machine", "drain", "local-1");
        File.WriteAllText(Gate, "");
        await Eventually.True(() => _cli.OpenLab(startsAgents: false).Machines()[0].State == "drained", what: "the current run to end");

        await Task.Delay(1500); // the agent has had every chance to start it
        Assert.Equal(RunStatus.Pending, _cli.OpenLab(startsAgents: false).Show(queued).Status);
        Assert.Equal([queued], (await MachineJsonAsync("local-1")).GetProperty("queue").EnumerateArray().Select(q => q.GetString()));

        await _cli.Run("machine", "resume", "local-1");
        Assert.Equal(RunStatus.Completed, (await _cli.OpenLab().WaitAsync(queued).WaitAsync(TimeSpan.FromSeconds(30))).Status);
    }
}
