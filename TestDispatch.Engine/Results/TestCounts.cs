namespace TestDispatch.Engine.Results;

/// <summary>How many cases ended each way; JSON names total, passed, failed, errors, skipped, flaky. Total is their sum.</summary>
public sealed record TestCounts(int Total, int Passed, int Failed, int Errors, int Skipped, int Flaky)
{
    public static TestCounts Zero { get; } = new(0, 0, 0, 0, 0, 0);

    public static TestCounts Of(IEnumerable<TestCase> cases) => OfStatuses(cases.Select(c => c.Status));

    public static TestCounts OfStatuses(IEnumerable<TestCaseStatus> statuses) => statuses.Aggregate(Zero, (counts, status) => counts.Plus(status));

    /// <summary>These counts and one more case that ended as <paramref name="status"/>.</summary>
    public TestCounts Plus(TestCaseStatus status) => status switch
    {
        TestCaseStatus.Passed => this with { Total = Total + 1, Passed = Passed + 1 },
        TestCaseStatus.Failed => this with { Total = Total + 1, Failed = Failed + 1 },
        TestCaseStatus.Error => this with { Total = Total + 1, Errors = Errors + 1 },
        TestCaseStatus.Skipped => this with { Total = Total + 1, Skipped = Skipped + 1 },
        TestCaseStatus.Flaky => this with { Total = Total + 1, Flaky = Flaky + 1 },
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static TestCounts operator +(TestCounts a, TestCounts b) => new(
        a.Total + b.Total, a.Passed + b.Passed, a.Failed + b.Failed, a.Errors + b.Errors, a.Skipped + b.Skipped, a.Flaky + b.Flaky);
}
