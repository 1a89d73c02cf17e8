using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Commands;

/// <summary><c>prune</c> and the agent's Retention on a real state dir, with the agent and real tests running.</summary>
[Trait("Category", "Integration")]
public sealed class PruneCommandTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Prune_under_a_running_batch_keeps_all_of_it_and_the_batch_ends_whole()
    {
        string pass = _cli.MakeTest("pass", "echo ok");
        (_, string ended, _) = await _cli.Run("run", pass, "--machine", "local-2", "--wait", "--json");
        string endedId = JsonDocument.Parse(ended).RootElement.GetProperty("id").GetString()!;
        string release = _cli.Combine("release");
        string slow = _cli.MakeTest("slow", $"while [ ! -e '{release}' ]; do sleep 0.05; done\necho slow done");
        string plan = _cli.Combine("plan.json");
        await File.WriteAllTextAsync(plan, $$"""
            { "name": "p", "entries": [
              { "name": "first", "test_dir": "{{pass}}", "machine": "local-1" },
              { "name": "slow", "test_dir": "{{slow}}", "machine": "local-1" },
              { "name": "after", "test_dir": "{{pass}}", "machine": "local-1" } ] }
            """);
        (_, string submitted, _) = await _cli.Run("batch", "submit", plan, "--json");
        string batchId = JsonDocument.Parse(submitted).RootElement.GetProperty("id").GetString()!;
        Lab lab = _cli.OpenLab(startsAgents: false);
        await Eventually.True(() => lab.Store.FindBatch(batchId).Batch.Counts is { Completed: 1, Running: 1 }, Deadline, "the slow entry to run");

        (int exit, string output, string error) = await _cli.Run("prune", "--older-than", "0s");
        await File.WriteAllTextAsync(release, "");
        Batch batch = await Eventually.Get(() => lab.Store.FindBatch(batchId, withItems: true).Batch is { IsTerminal: true } b ? b : null, Deadline, "the batch to end");

        Assert.True(exit == 0, error);
        Assert.StartsWith("removed 1 runs and 0 batches", output, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.RunNotFound, Assert.Throws<DispatchException>(() => lab.Store.Get(endedId)).ErrorCode);
        Assert.False(Directory.Exists(lab.Store.Paths.RunDir(endedId)));
        Assert.Equal((BatchStatus.Completed, 3), (batch.Status, batch.Counts.Completed));
        Assert.All(batch.Items!, i => Assert.True(File.Exists(lab.Store.Get(i.RunId!).Run.LogsPath)));
    }

    [Fact]
    public async Task A_dry_run_prints_what_would_go_and_removes_nothing()
    {
        (_, string ended, _) = await _cli.Run("run", _cli.MakeTest("pass", "echo ok"), "--machine", "local-1", "--wait", "--json");
        string id = JsonDocument.Parse(ended).RootElement.GetProperty("id").GetString()!;

        (int exit, string output, _) = await _cli.Run("prune", "--older-than", "0s", "--dry-run");

        Assert.Equal(0, exit);
        Assert.StartsWith("would remove 1 runs", output, StringComparison.Ordinal);
        Assert.Equal(id, _cli.OpenLab(startsAgents: false).Store.Get(id).Id);
    }

    [Theory]
    [InlineData("soon", "--older-than 'soon' is not a duration")]
    [InlineData("-0d", "--older-than '-0d' is negative")]
    [InlineData("-90d", "--older-than '-90d' is negative")]
    public async Task A_bad_duration_is_refused_with_exit_2(string given, string expected)
    {
        (int exit, _, string error) = await _cli.Run("prune", "--older-than", given);

        Assert.Equal(2, exit);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_Retention_set_the_idle_agent_prunes_by_itself()
    {
        string config = _cli.Combine("retention.json");
        await File.WriteAllTextAsync(config, """
            { "TestDispatch": { "Defaults": { "AgentIdle": "10s", "KillGrace": "1s" }, "Retention": { "OlderThan": "1s" },
              "Machines": [ { "Name": "local-1", "Transport": "local", "Tags": ["local"] } ] } }
            """);
        (_, string ended, _) = await _cli.RunWithConfig(config, "run", _cli.MakeTest("pass", "echo ok"), "--machine", "local-1", "--wait", "--json");
        string id = JsonDocument.Parse(ended).RootElement.GetProperty("id").GetString()!;
        Lab lab = _cli.OpenLab(startsAgents: false);
        DateTimeOffset endedAt = lab.Store.Get(id).Run.EndedAt!.Value;
        await Eventually.True(() => DateTimeOffset.UtcNow - endedAt > TimeSpan.FromSeconds(1.5), Deadline, "the run to be over a second old");
        // The agent's next idle spell, after another run, comes when the first ended over a second ago.
        (_, string kept, _) = await _cli.RunWithConfig(config, "run", _cli.MakeTest("again", "echo again"), "--machine", "local-1", "--wait", "--json");

        await Eventually.True(() => lab.Store.List().All(r => r.Id != id), Deadline, "the agent to prune the first run");

        // The agent logs it after removing the run's directory.
        await Eventually.True(() => File.ReadAllText(lab.Store.Paths.AgentLog).Contains("retention: removed", StringComparison.Ordinal), Deadline, "the agent to log it");
        Assert.False(Directory.Exists(lab.Store.Paths.RunDir(id)));
        Assert.NotEmpty(kept);
    }
}
