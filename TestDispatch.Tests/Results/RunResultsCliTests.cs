using System.Text.Json;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Results;

/// <summary>
/// Results inside a run, through the real CLI and agent on local machines, from reports the real producers write
/// (pytest-3 --junitxml, ctest --output-junit): counts in the run, cases in show --tests, new and flaky from history.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RunResultsCliTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    /// <summary>
    /// A pytest suite whose test_sensor fails while the file <paramref name="failFlag"/> exists: outside the test dir, so
    /// its runs keep one hash whether it fails or not, as a flaky test does.
    /// </summary>
    private string PytestTest(string name, string failFlag)
    {
        string pytest = Producers.Find("python3-pytest", "pytest-3", "pytest");
        string dir = _cli.MakeTest(name, $"exec {pytest} -p no:cacheprovider -q --junitxml=\"$TESTDISPATCH_ARTIFACTS/junit.xml\" test_lab.py");
        File.WriteAllText(Path.Combine(dir, "test_lab.py"), $$"""
            import os
            import pytest


            def test_passes():
                assert True


            def test_sensor():
                print("reading the sensor")
                assert not os.path.exists("{{failFlag}}"), "sensor out of range"


            def test_fails():
                assert 1 + 1 == 3, "arithmetic is broken"


            @pytest.mark.skip(reason="no sensor attached")
            def test_skipped():
                pass

            """);
        return dir;
    }

    private async Task<JsonElement> RunAsync(string testDir, int expectedExit)
    {
        (int exit, string output, string error) = await _cli.Run("run", testDir, "--machine", "local-1", "--wait", "--json");
        Assert.True(exit == expectedExit, $"exit {exit}: {output}{error}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private async Task<JsonElement> TestsOf(string id)
    {
        (int exit, string output, string error) = await _cli.Run("show", id, "--tests", "--json");
        Assert.True(exit == ExitCodes.Passed, $"exit {exit}: {error}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    private static JsonElement Case(JsonElement tests, string name) =>
        tests.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    [Fact]
    public async Task A_pytest_run_keeps_its_counts_in_the_run_and_shows_its_cases_failures_first()
    {
        string test = PytestTest("suite", _cli.Combine("never"));

        JsonElement run = await RunAsync(test, ExitCodes.TestFailed);

        Assert.Equal("failed", run.GetProperty("status").GetString());
        Assert.Equal(1, run.GetProperty("exit_code").GetInt32());
        Assert.Equal("""{"total":4,"passed":2,"failed":1,"errors":0,"skipped":1,"flaky":0}""",
            JsonSerializer.Serialize(run.GetProperty("tests")));
        Assert.False(run.TryGetProperty("results_error", out _));
        string id = run.GetProperty("id").GetString()!;
        JsonElement tests = await TestsOf(id);
        Assert.Equal(["test_fails", "test_skipped", "test_passes", "test_sensor"],
            tests.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        JsonElement failed = Case(tests, "test_fails");
        Assert.Equal(("failed", "pytest", false, false), (failed.GetProperty("status").GetString(), failed.GetProperty("suite").GetString(),
            failed.GetProperty("new").GetBoolean(), failed.GetProperty("flaky").GetBoolean()));
        Assert.StartsWith("AssertionError: arithmetic is broken", failed.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.True(failed.GetProperty("time_s").GetDouble() >= 0);
        Assert.True(File.Exists(Path.Combine(_cli.StateDir, "runs", id, "results.jsonl")));
        (_, string shown, _) = await _cli.Run("show", id);
        Assert.Contains("tests          2/4 passed, 1 failed, 1 skipped", shown, StringComparison.Ordinal);
        (_, string text, _) = await _cli.Run("show", id, "--tests");
        Assert.Contains("failed   ", text, StringComparison.Ordinal);
        Assert.Contains("--- pytest::test_lab::test_fails (failed)", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_case_that_passed_then_fails_is_new_and_once_it_passes_again_it_is_flaky_with_its_history_newest_first()
    {
        string flag = _cli.Combine("sensor-broken");
        string test = PytestTest("sensor", flag);
        JsonElement first = await RunAsync(test, ExitCodes.TestFailed);
        File.WriteAllText(flag, "");
        JsonElement second = await RunAsync(test, ExitCodes.TestFailed);
        File.Delete(flag);
        JsonElement third = await RunAsync(test, ExitCodes.TestFailed);

        JsonElement broke = await TestsOf(second.GetProperty("id").GetString()!);
        Assert.Equal(("failed", true), (Case(broke, "test_sensor").GetProperty("status").GetString(), Case(broke, "test_sensor").GetProperty("new").GetBoolean()));
        // test_fails failed every time: never new, never flaky.
        Assert.Equal((false, false), (Case(broke, "test_fails").GetProperty("new").GetBoolean(), Case(broke, "test_fails").GetProperty("flaky").GetBoolean()));
        JsonElement mended = await TestsOf(third.GetProperty("id").GetString()!);
        Assert.Equal(("passed", false, true), (Case(mended, "test_sensor").GetProperty("status").GetString(),
            Case(mended, "test_sensor").GetProperty("new").GetBoolean(), Case(mended, "test_sensor").GetProperty("flaky").GetBoolean()));
        Assert.False(Case(mended, "test_passes").GetProperty("flaky").GetBoolean());

        (int exit, string output, string error) = await _cli.Run("history", "test_sensor", "--test-dir", test, "--json");

        Assert.True(exit == ExitCodes.Passed, error);
        JsonElement[] runs = [.. JsonDocument.Parse(output).RootElement.EnumerateArray()];
        Assert.Equal(new[] { third, second, first }.Select(r => r.GetProperty("id").GetString()), runs.Select(r => r.GetProperty("run").GetString()));
        Assert.Equal(["passed", "failed", "passed"], runs.Select(r => r.GetProperty("status").GetString()));
        Assert.All(runs, r => Assert.Equal(("pytest::test_lab::test_sensor", "local-1"), (r.GetProperty("case").GetString(), r.GetProperty("machine").GetString())));
    }

    [Fact]
    public async Task History_of_a_name_several_cases_hold_lists_them_and_of_an_unknown_one_says_so()
    {
        await RunAsync(PytestTest("names", _cli.Combine("never")), ExitCodes.TestFailed);

        (int ambiguous, _, string several) = await _cli.Run("history", "test_");
        (int unknown, _, string none) = await _cli.Run("history", "test_nothing");

        Assert.Equal((ExitCodes.BadInput, ExitCodes.BadInput), (ambiguous, unknown));
        Assert.StartsWith("testdispatch: bad_input: 'test_' is part of 4 cases' names: pytest::test_lab::test_fails,", several, StringComparison.Ordinal);
        Assert.StartsWith("testdispatch: case_not_found: no run recorded a case named or containing 'test_nothing'", none, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broken_report_is_named_in_the_log_and_as_results_error_and_the_verdict_stays_the_exit_status()
    {
        string test = _cli.MakeTest("broken", """
            printf '<testsuite name="s"><testcase name="ok"/><testcase name="cut"><failure message="x">' > "$TESTDISPATCH_ARTIFACTS/junit.xml"
            echo done
            """);

        JsonElement run = await RunAsync(test, ExitCodes.Passed);

        Assert.Equal("completed", run.GetProperty("status").GetString());
        Assert.Equal("", run.GetProperty("error_code").GetString());
        Assert.StartsWith("artifacts/junit.xml line 1, position ", run.GetProperty("results_error").GetString(), StringComparison.Ordinal);
        // The case before the damage is kept.
        Assert.Equal(1, run.GetProperty("tests").GetProperty("passed").GetInt32());
        string log = await File.ReadAllTextAsync(run.GetProperty("logs_path").GetString()!);
        Assert.Contains("testdispatch: results_error: artifacts/junit.xml line 1, position ", log, StringComparison.Ordinal);
        (_, string shown, _) = await _cli.Run("show", run.GetProperty("id").GetString()!);
        Assert.Contains("results error  artifacts/junit.xml line 1", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_without_reports_keeps_exactly_its_old_fields()
    {
        JsonElement run = await RunAsync(_cli.MakeTest("plain", "echo ok"), ExitCodes.Passed);

        Assert.False(run.TryGetProperty("tests", out _));
        Assert.False(run.TryGetProperty("results_error", out _));
        (int exit, string output, _) = await _cli.Run("show", run.GetProperty("id").GetString()!, "--tests");
        Assert.Equal(ExitCodes.Passed, exit);
        Assert.Contains("left no test results", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctest_reports_the_manifest_names_in_the_work_dir_are_read_and_go_with_the_run_when_pruned()
    {
        string cmake = Producers.Find("cmake", "cmake");
        string ctest = Producers.Find("cmake", "ctest");
        string test = _cli.MakeTest("ctest", $"{cmake} -S src -B build >/dev/null && exec {ctest} --test-dir build --output-junit reports/junit.xml");
        Directory.CreateDirectory(Path.Combine(test, "src"));
        File.WriteAllText(Path.Combine(test, "src", "CMakeLists.txt"), """
            cmake_minimum_required(VERSION 3.21)
            project(lab NONE)
            enable_testing()
            add_test(NAME passes COMMAND sh -c "echo all good")
            add_test(NAME fails COMMAND sh -c "echo sensor out of range; exit 3")
            """);
        File.WriteAllText(Path.Combine(test, "testdispatch.json"), """{ "results": ["build/**/*.xml"] }""");

        JsonElement run = await RunAsync(test, ExitCodes.TestFailed);

        Assert.Equal("""{"total":2,"passed":1,"failed":1,"errors":0,"skipped":0,"flaky":0}""", JsonSerializer.Serialize(run.GetProperty("tests")));
        string id = run.GetProperty("id").GetString()!;
        JsonElement fails = Case(await TestsOf(id), "fails");
        Assert.Equal(("failed", "sensor out of range", "build/reports/junit.xml"),
            (fails.GetProperty("status").GetString(), fails.GetProperty("text").GetString(), fails.GetProperty("report").GetString()));

        (int pruned, _, string error) = await _cli.Run("prune", "--older-than", "0s");

        Assert.True(pruned == ExitCodes.Passed, error);
        Assert.False(File.Exists(Path.Combine(_cli.StateDir, "runs", id, "results.jsonl")));
    }

    [Fact]
    public async Task Batch_show_adds_the_counts_of_its_runs_cases_and_the_failures_that_are_new()
    {
        string flag = _cli.Combine("sensor-broken");
        string test = PytestTest("batched", flag);
        await RunAsync(test, ExitCodes.TestFailed);
        File.WriteAllText(flag, "");
        string plan = _cli.Combine("tests", "plan.json");
        File.WriteAllText(plan, """{ "name": "nightly", "entries": [ { "name": "sensor", "test_dir": "batched", "machine": "local-1" } ] }""");
        (int submitted, string id, string error) = await _cli.Run("batch", "submit", plan, "--wait");
        Assert.True(submitted == ExitCodes.TestFailed, error);

        (int exit, string output, _) = await _cli.Run("batch", "show", id.Trim(), "--json");
        (_, string text, _) = await _cli.Run("batch", "show", id.Trim());

        Assert.Equal(ExitCodes.Passed, exit);
        JsonElement batch = JsonDocument.Parse(output).RootElement;
        Assert.Equal("""{"total":4,"passed":1,"failed":2,"errors":0,"skipped":1,"flaky":0}""", JsonSerializer.Serialize(batch.GetProperty("tests")));
        JsonElement fresh = Assert.Single(batch.GetProperty("new_failures").EnumerateArray().ToArray());
        Assert.Equal(("sensor", "pytest::test_lab::test_sensor"), (fresh.GetProperty("entry").GetString(), fresh.GetProperty("case").GetString()));
        Assert.Matches(@"(?m)^tests\s+1/4 passed, 2 failed, 1 skipped$", text);
        Assert.Matches(@"(?m)^sensor\s+\w+\s+pytest::test_lab::test_sensor$", text);
    }
}
