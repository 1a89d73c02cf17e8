namespace TestDispatch.Engine.Results;

/// <summary>How many cases ended each way; JSON names total, passed, failed, errors, skipped, flaky. Total is their sum.</summary>
public sealed record TestCounts(int Total, int Passed, int Failed, int Errors, int Skipped, int Flaky)
{
    public static TestCounts Zero { get; } = new(0, 0, 0, 0, 0, 0);

    public static TestCounts Of(IEnumerable<TestCase> cases)
    {
        int passed = 0, failed = 0, errors = 0, skipped = 0, flaky = 0;
        foreach (TestCase testCase in cases)
        {
            switch (testCase.Status)
            {
                case TestCaseStatus.Passed: passed++; break;
                case TestCaseStatus.Failed: failed++; break;
                case TestCaseStatus.Error: errors++; break;
                case TestCaseStatus.Skipped: skipped++; break;
                case TestCaseStatus.Flaky: flaky++; break;
                default: throw new ArgumentOutOfRangeException(nameof(cases), testCase.Status, null);
            }
        }
        return new TestCounts(passed + failed + errors + skipped + flaky, passed, failed, errors, skipped, flaky);
    }
}
