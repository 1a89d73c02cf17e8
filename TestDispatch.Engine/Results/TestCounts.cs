namespace TestDispatch.Engine.Results;

/// <summary>How many cases ended each way; JSON names total, passed, failed, errors, skipped, flaky. Total is their sum.</summary>
public sealed record TestCounts(int Total, int Passed, int Failed, int Errors, int Skipped, int Flaky)
{
    public static TestCounts Zero { get; } = new(0, 0, 0, 0, 0, 0);

    public static TestCounts Of(IEnumerable<TestCase> cases) => OfStatuses(cases.Select(c => c.Status));

    public static TestCounts OfStatuses(IEnumerable<TestCaseStatus> statuses)
    {
        int passed = 0, failed = 0, errors = 0, skipped = 0, flaky = 0;
        foreach (TestCaseStatus status in statuses)
        {
            switch (status)
            {
                case TestCaseStatus.Passed: passed++; break;
                case TestCaseStatus.Failed: failed++; break;
                case TestCaseStatus.Error: errors++; break;
                case TestCaseStatus.Skipped: skipped++; break;
                case TestCaseStatus.Flaky: flaky++; break;
                default: throw new ArgumentOutOfRangeException(nameof(statuses), status, null);
            }
        }
        return new TestCounts(passed + failed + errors + skipped + flaky, passed, failed, errors, skipped, flaky);
    }

    public static TestCounts operator +(TestCounts a, TestCounts b) => new(
        a.Total + b.Total, a.Passed + b.Passed, a.Failed + b.Failed, a.Errors + b.Errors, a.Skipped + b.Skipped, a.Flaky + b.Flaky);
}
