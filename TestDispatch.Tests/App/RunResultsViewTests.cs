using Terminal.Gui.Input;
using TestDispatch.Engine;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

/// <summary>The run view's test cases (t) and the Runs tab's TESTS column, over results written as the agent writes them.</summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class RunResultsViewTests : IDisposable
{
    private readonly CliHarness _lab = new();
    private readonly Lab _engine;
    private readonly Run _run;

    public RunResultsViewTests()
    {
        _engine = _lab.OpenLab(startsAgents: false);
        Run before = Ended(["test_sensor", "test_power"], []);
        _run = Ended(["test_power"], ["test_sensor"]);
        Assert.NotEqual(before.Id, _run.Id);
    }

    public void Dispose() => _lab.Dispose();

    /// <summary>A run of /tests/a that ended with these cases passed and failed, its results kept as the agent keeps them.</summary>
    private Run Ended(string[] passed, string[] failed)
    {
        Run run = _engine.Store.Update(_engine.Store.Prepare(Request(machine: "local-1")).Run.Id, Running).Run;
        TestCase[] cases =
        [
            .. passed.Select(n => new TestCase { Suite = "pytest", ClassName = "test_lab", Name = n, Status = TestCaseStatus.Passed, TimeSeconds = 0.01, Report = "artifacts/junit.xml" }),
            .. failed.Select(n => new TestCase
            {
                Suite = "pytest", ClassName = "test_lab", Name = n, Status = TestCaseStatus.Failed, TimeSeconds = 1.5, Report = "artifacts/junit.xml",
                Message = "AssertionError: sensor out of range", Text = "def test_sensor():\n>       assert reading < 3300\nE       AssertionError: 3350 mV",
            }),
        ];
        string dir = Path.Combine(_lab.StateDir, "runs", run.Id);
        Directory.CreateDirectory(dir);
        File.WriteAllText(run.LogsPath, "the log\n");
        ResultsFile.Write(Path.Combine(dir, ResultsFile.FileName), cases);
        new CaseIndex(Path.Combine(_lab.StateDir, CaseIndex.FileName)).Append(CaseIndexEntry.Of(run.Id, run.TestDir, run.TestDirHash, run.Machine, DateTimeOffset.UtcNow, cases));
        return _engine.Store.Update(run.Id, r => Finished(r, failed.Length > 0 ? RunStatus.Failed : RunStatus.Completed, failed.Length > 0 ? 1 : 0) is var ended
            ? ended with { Run = ended.Run with { Tests = TestCounts.Of(cases) } } : r).Run;
    }

    [Theory]
    [InlineData(100, 24)]
    [InlineData(80, 24)]
    public void T_shows_the_cases_failures_first_with_the_new_one_marked_and_enter_says_its_message(int width, int height)
    {
        using HeadlessApp ui = new(width, height);
        using RunWindow window = new(ui.App, _engine, _run.Id);
        ui.Show(window);
        string fields = ui.WaitFor("1/2 passed, 1 failed");

        ui.Press(new Key('t'));
        string list = ui.WaitFor("failed new");
        ui.Press(Key.Enter);
        string said = ui.WaitFor("pytest::test_lab::test_sensor: AssertionError");

        Assert.Contains("tests     1/2 passed, 1 failed", fields, StringComparison.Ordinal);
        int failure = list.IndexOf("pytest::test_lab::test_sensor", StringComparison.Ordinal);
        int pass = list.IndexOf("pytest::test_lab::test_power", StringComparison.Ordinal);
        Assert.True(failure >= 0 && pass > failure, $"the failure first, then the passed case:\n{list}");
        Assert.Contains("AssertionError: sens", list, StringComparison.Ordinal);
        Assert.Contains("│pytest::test_lab::test_sensor: AssertionError", said, StringComparison.Ordinal);
    }

    [Fact]
    public void Enter_on_a_failed_case_whose_message_the_log_holds_shows_the_log_from_that_line_and_t_goes_back_to_the_cases()
    {
        File.WriteAllLines(_run.LogsPath, [
            .. Enumerable.Range(0, 200).Select(i => $"filler line {i}"),
            "E       AssertionError: sensor out of range (where the log says it)",
            "after the failure",
        ]);
        using HeadlessApp ui = new(80, 24);
        using RunWindow window = new(ui.App, _engine, _run.Id);
        ui.Show(window);
        ui.WaitFor("1/2 passed, 1 failed");

        ui.Press(new Key('t'));
        ui.WaitFor("failed new");
        ui.Press(Key.Enter);
        string log = ui.WaitFor("(where the log says it)");
        ui.Press(new Key('t'));
        string cases = ui.WaitFor("failed new");

        Assert.Contains("pytest::test_lab::test_sensor: AssertionError", log, StringComparison.Ordinal);
        Assert.DoesNotContain("filler line 150", log, StringComparison.Ordinal);
        Assert.DoesNotContain("(where the log says it)", cases, StringComparison.Ordinal);
    }

    [Fact]
    public void The_runs_tab_says_passed_of_total_for_a_run_with_results_and_a_dash_for_one_without()
    {
        Run plain = _engine.Store.Prepare(Request(machine: "local-2", hash: "other")).Run;
        RunsTable table = new(new RunsView(_engine.Store.List(), RunFilter.All));
        int tests = Array.FindIndex([.. table.Columns], c => c.Name == "TESTS");

        Assert.Equal("1/2", table.Cell(table.Runs.RowOf(_run.Id), tests));
        Assert.Equal("-", table.Cell(table.Runs.RowOf(plain.Id), tests));
    }
}
