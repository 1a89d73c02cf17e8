using TestDispatch.Engine;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Results;

/// <summary>What the lab says of cases (flaky, history) over runs recorded long ago as the agent records them, on the real disk.</summary>
[Trait("Category", "Integration")]
public sealed class CaseHistoryLabTests : IDisposable
{
    private readonly CliHarness _lab = new();
    private readonly Lab _engine;

    public CaseHistoryLabTests() => _engine = _lab.OpenLab(startsAgents: false);

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void A_run_from_a_month_ago_still_shows_the_case_that_failed_then_passed_within_its_window_as_flaky()
    {
        Ended(DateTimeOffset.UtcNow.AddDays(-32), TestCaseStatus.Failed);
        Run old = Ended(DateTimeOffset.UtcNow.AddDays(-30), TestCaseStatus.Passed);

        CaseResult sensor = Assert.Single(_engine.Tests(old.Id).Cases);

        Assert.Equal((TestCaseStatus.Passed, true), (sensor.Status, sensor.Flaky));
    }

    [Fact]
    public void Prune_takes_the_pruned_runs_out_of_the_case_index_and_keeps_the_others()
    {
        Run old = Ended(DateTimeOffset.UtcNow.AddDays(-100), TestCaseStatus.Failed);
        Run recent = Ended(DateTimeOffset.UtcNow.AddDays(-1), TestCaseStatus.Passed);
        Assert.Equal([recent.Id, old.Id], _engine.CaseRuns("test_sensor").Runs.Select(r => r.Run));

        Assert.Equal([old.Id], _engine.Prune(TimeSpan.FromDays(90), keepFailed: false).Runs.Select(r => r.Id));

        Assert.Equal([recent.Id], new CaseIndex(_engine.Store.Paths.CaseIndex).Read().Select(e => e.Run));
        Assert.Equal([recent.Id], _engine.CaseRuns("test_sensor").Runs.Select(r => r.Run));
        Run next = Ended(DateTimeOffset.UtcNow, TestCaseStatus.Passed);
        Assert.Equal([next.Id, recent.Id], _engine.CaseRuns("test_sensor").Runs.Select(r => r.Run));
    }

    /// <summary>A run of /tests/a whose one case ended so at <paramref name="at"/>, its results kept as the agent keeps them.</summary>
    private Run Ended(DateTimeOffset at, TestCaseStatus status)
    {
        Run run = _engine.Store.Update(_engine.Store.Prepare(Request(machine: "local-1")).Run.Id, Running).Run;
        TestCase[] cases = [new TestCase { Suite = "pytest", ClassName = "test_lab", Name = "test_sensor", Status = status, Report = "artifacts/junit.xml" }];
        Directory.CreateDirectory(Path.GetDirectoryName(_engine.Store.Paths.Results(run.Id))!);
        ResultsFile.Write(_engine.Store.Paths.Results(run.Id), cases);
        _engine.Store.AppendCases(CaseIndexEntry.Of(run.Id, run.TestDir, run.TestDirHash, run.Machine, at, []), cases.Select(CaseOutcome.Of));
        return _engine.Store.Update(run.Id, r => Finished(r) is var ended
            ? ended with { Run = ended.Run with { Tests = TestCounts.Of(cases), EndedAt = at } } : r).Run;
    }
}
