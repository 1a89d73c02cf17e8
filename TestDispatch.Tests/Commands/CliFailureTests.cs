using System.Text.Json;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Commands;

/// <summary>
/// Failures a user meets outside the test itself: each is one line <c>testdispatch: &lt;code&gt;: &lt;message&gt;</c> on
/// stderr and exit 4, never a stack trace, stdout clean with --json; and what was recorded is never left half made.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CliFailureTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("runs", "--json")]
    [InlineData("run", "examples-not-needed", "--machine", "local-1", "--json")]
    [InlineData("batch", "list", "--json")]
    public async Task A_state_dir_that_cannot_be_made_is_a_coded_error_with_exit_4_and_clean_stdout(params string[] args)
    {
        File.WriteAllText(_cli.StateDir, "a file where the state dir should be");

        (int exit, string output, string error) = await _cli.Run(args);

        Assert.Equal(ExitCodes.Infrastructure, exit);
        Assert.Equal("", output);
        Assert.StartsWith($"testdispatch: {ErrorCodes.StateUnwritable}: ", error, StringComparison.Ordinal);
        Assert.Contains(_cli.StateDir, error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task A_run_whose_agent_cannot_be_started_is_ended_as_spawn_failed_and_the_error_says_so()
    {
        string test = _cli.MakeTest("pass", "exit 0");

        // No setsid on PATH: the agent cannot be started detached.
        (int exit, string output, string error) = await _cli.Exec(["run", test, "--machine", "local-1"], new Dictionary<string, string?> { ["PATH"] = "/nonexistent" });

        CliHarness.AssertNoStackTrace(error);
        Assert.Equal((ExitCodes.Infrastructure, ""), (exit, output));
        Assert.StartsWith($"testdispatch: {ErrorCodes.SpawnFailed}: run ", error, StringComparison.Ordinal);
        Assert.Contains("ended as failed (spawn_failed)", error, StringComparison.Ordinal);
        Run run = Assert.Single(_cli.OpenLab(startsAgents: false).Runs(RunFilter.All));
        Assert.Contains(run.Id, error, StringComparison.Ordinal);
        Assert.Equal((RunStatus.Failed, ErrorCodes.SpawnFailed), (run.Status, run.ErrorCode));
        Assert.NotNull(run.EndedAt);
    }

    [Fact]
    public async Task A_batch_whose_agent_cannot_be_started_is_cancelled_and_the_error_says_so()
    {
        string plan = _cli.Combine("plan.json");
        _cli.MakeTest("pass", "exit 0");
        File.WriteAllText(plan, """{ "entries": [ { "name": "pass", "test_dir": "tests/pass", "machine": "local-1" } ] }""");

        (int exit, string output, string error) = await _cli.Exec(["batch", "submit", plan, "--json"], new Dictionary<string, string?> { ["PATH"] = "/nonexistent" });

        CliHarness.AssertNoStackTrace(error);
        Assert.Equal((ExitCodes.Infrastructure, ""), (exit, output));
        Assert.StartsWith($"testdispatch: {ErrorCodes.SpawnFailed}: batch ", error, StringComparison.Ordinal);
        Assert.Contains("was cancelled", error, StringComparison.Ordinal);
        (int listed, string batches, _) = await _cli.Run("batch", "list", "--json");
        Assert.Equal(0, listed);
        using JsonDocument json = JsonDocument.Parse(batches);
        Assert.Equal("cancelled", Assert.Single(json.RootElement.EnumerateArray()).GetProperty("status").GetString());
    }
}
