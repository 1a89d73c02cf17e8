using System.Text.Json;
using TestDispatch.Engine.Errors;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Commands;

/// <summary>
/// <c>diff</c> through the real CLI on logs real tests wrote through the agent: a test that prints what differs between any
/// two runs (times, its pid, a temp dir, the run id) and one line that says whether it passed.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DiffLogsCommandTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary>A test whose verdict is the content of the file <c>verdict</c> beside the test dirs ("ok" or anything else).</summary>
    private string NoisyTest(string name = "noisy") => _cli.MakeTest(name, $$"""
        dir=$(mktemp -d)
        echo "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ) starting run $TESTDISPATCH_RUN_ID pid=$$ in $dir"
        echo "uptime $(cut -d' ' -f1 /proc/uptime)s, boot at $(date -u)"
        echo "step 1 of 3 took $(( $$ % 97 + 3 ))ms"
        verdict=$(cat '{{_cli.Combine("verdict")}}')
        echo "power rail 3: $verdict"
        echo "$(date -u +%H:%M:%S.%N) cleaning $dir"
        rmdir "$dir"
        [ "$verdict" = ok ]
        """);

    private async Task<string> RunAsync(string test, string verdict, string machine = "local-1")
    {
        await File.WriteAllTextAsync(_cli.Combine("verdict"), verdict);
        (_, string output, string error) = await _cli.Run("run", test, "--machine", machine, "--wait", "--json");
        return JsonDocument.Parse(output).RootElement.GetProperty("id").GetString() ?? throw new InvalidOperationException(error);
    }

    [Fact]
    public async Task A_run_that_fails_after_a_pass_shows_only_the_line_that_changed_and_exits_1()
    {
        string test = NoisyTest();
        string passed = await RunAsync(test, "ok");
        string failed = await RunAsync(test, "3350 mV over the limit");

        (int exit, string output, string error) = await _cli.Run("diff", failed);

        Assert.True(exit == 1, error);
        string[] lines = output.TrimEnd('\n').Split('\n');
        Assert.StartsWith($"--- {passed} (local-1, completed, ended ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith($"+++ {failed} (local-1, failed, ended ", lines[1], StringComparison.Ordinal);
        Assert.Equal(["-power rail 3: ok", "+power rail 3: 3350 mV over the limit"],
            lines[2..].Where(l => l.StartsWith('-') || l.StartsWith('+')));
        Assert.Single(lines, l => l.StartsWith("@@ ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Logs_that_differ_only_in_volatile_tokens_are_alike_and_exit_0()
    {
        string test = NoisyTest();
        string first = await RunAsync(test, "ok");
        string second = await RunAsync(test, "ok");
        Assert.NotEqual(File.ReadAllText(LogOf(first)), File.ReadAllText(LogOf(second))); // the tokens did differ

        (int exit, string output, string error) = await _cli.Run("diff", second);

        Assert.Equal((0, ""), (exit, output));
        Assert.Contains($"the log of run {second} is the same as run {first}'s but for volatile tokens", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_last_pass_on_the_same_machine_is_preferred_over_a_newer_one_elsewhere()
    {
        string test = NoisyTest();
        string here = await RunAsync(test, "ok", "local-1");
        string elsewhere = await RunAsync(test, "ok", "local-2");
        string failed = await RunAsync(test, "low", "local-1");
        string onlyElsewhere = await RunAsync(NoisyTest("other"), "ok", "local-2");
        string failedHere = await RunAsync(_cli.Combine("tests", "other"), "low", "local-1");

        (_, string json, _) = await _cli.Run("diff", failed, "--json");
        (_, string fallback, _) = await _cli.Run("diff", failedHere, "--json");
        (int exit, string chosen, _) = await _cli.Run("diff", failed, elsewhere, "--json");

        JsonElement diff = JsonDocument.Parse(json).RootElement;
        Assert.Equal((here, failed), (diff.GetProperty("base").GetProperty("id").GetString(), diff.GetProperty("run").GetProperty("id").GetString()));
        Assert.Equal("different", diff.GetProperty("diff").GetProperty("outcome").GetString());
        Assert.Equal(onlyElsewhere, JsonDocument.Parse(fallback).RootElement.GetProperty("base").GetProperty("id").GetString());
        Assert.Equal(elsewhere, JsonDocument.Parse(chosen).RootElement.GetProperty("base").GetProperty("id").GetString());
        Assert.Equal(1, exit);
    }

    [Fact]
    public async Task A_run_with_no_earlier_pass_is_a_coded_error_with_exit_2()
    {
        string test = NoisyTest();
        string failed = await RunAsync(test, "low");
        await RunAsync(test, "ok"); // a pass after it is not an earlier one

        (int exit, string output, string error) = await _cli.Run("diff", failed);

        Assert.Equal((AnswerOrTrouble.Trouble, ""), (exit, output));
        Assert.StartsWith($"testdispatch: {ErrorCodes.NoPassingRun}: no run of {_cli.Combine("tests", "noisy")} passed before run {failed}", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_too_different_to_align_are_a_coded_error_with_exit_2_and_the_counts()
    {
        string test = _cli.MakeTest("many", $"seq 6000 | sed \"s/^/$(cat '{_cli.Combine("verdict")}') line /\"");
        string a = await RunAsync(test, "alpha");
        string b = await RunAsync(test, "beta");

        (int exit, string output, string error) = await _cli.Run("diff", b, a);

        Assert.Equal((AnswerOrTrouble.Trouble, ""), (exit, output));
        Assert.StartsWith($"testdispatch: {ErrorCodes.LogsTooDifferent}: the logs of runs {a} and {b} are too different to align: ", error, StringComparison.Ordinal);
        Assert.Contains("of 6,000 and 6,000)", error, StringComparison.Ordinal);
        CliHarness.AssertNoStackTrace(error);
    }

    private string LogOf(string id) => Path.Combine(_cli.StateDir, "runs", id, "output.log");
}
