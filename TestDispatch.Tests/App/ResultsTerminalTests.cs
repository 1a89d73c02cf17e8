using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.App;

/// <summary>A run's test results in the built app under tmux at 80×24: the Runs tab's TESTS column, and the run view's cases (t).</summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class ResultsTerminalTests : IDisposable
{
    private readonly CliHarness _lab = new(defaults: """ "AgentIdle": "5s" """);

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task A_run_with_a_failed_case_shows_passed_of_total_and_t_lists_the_failure_first_and_enter_shows_the_log_at_it()
    {
        Lab lab = _lab.OpenLab();
        string test = _lab.MakeTest("sensor", """
            mkdir -p "$TESTDISPATCH_ARTIFACTS"
            cat >"$TESTDISPATCH_ARTIFACTS/junit.xml" <<'XML'
            <?xml version="1.0" encoding="utf-8"?>
            <testsuites><testsuite name="pytest" tests="2" failures="1">
            <testcase classname="test_lab" name="test_power" time="0.01"/>
            <testcase classname="test_lab" name="test_sensor" time="0.02"><failure message="AssertionError: sensor out of range">E AssertionError</failure></testcase>
            </testsuite></testsuites>
            XML
            echo "E       AssertionError: sensor out of range (the test's own output)"
            exit 1
            """);
        Run run = await lab.WaitAsync((await lab.DispatchAsync(test, "local-1")).Run.Id);
        Assert.Equal(1, run.Tests?.Failed);
        await using Tmux terminal = new();
        await terminal.StartAsync([.. CliHarness.Program, "--state-dir", _lab.StateDir, "--config", _lab.ConfigFile], width: 80, height: 24);

        string runs = await terminal.WaitForAsync(run.Id);
        await terminal.SendKeysAsync("Enter");
        await terminal.WaitForAsync("1/2 passed, 1 failed");
        await terminal.SendKeysAsync("t");
        string cases = await terminal.WaitForAsync("test_lab::test_power");
        await terminal.SendKeysAsync("Enter");
        string log = await terminal.WaitForAsync("(the test's own output)");

        Assert.Contains("TESTS", runs, StringComparison.Ordinal);
        Assert.Matches(@"\s1/2\s", runs);
        int failure = cases.IndexOf("pytest::test_lab::test_sensor", StringComparison.Ordinal);
        Assert.True(failure >= 0 && failure < cases.IndexOf("pytest::test_lab::test_power", StringComparison.Ordinal), cases);
        Assert.Contains("pytest::test_lab::test_sensor: AssertionError: sensor out of range", log, StringComparison.Ordinal);
    }
}
