namespace TestDispatch.Engine.Results;

/// <summary>
/// One case for each (suite, classname, name) of a report, where a producer lists a case more than once:
/// gotestsum <c>--rerun-fails</c> lists the failed run then the rerun; pytest lists a case twice when its call
/// failed and its teardown errored. Failed and passed → flaky; only failures and errors → the worse of them.
/// </summary>
internal static class RepeatedCases
{
    public static IReadOnlyList<TestCase> Merge(IReadOnlyList<TestCase> cases)
    {
        Dictionary<(string, string, string), List<TestCase>> listings = [];
        List<List<TestCase>> inOrder = [];
        foreach (TestCase testCase in cases)
        {
            if (!listings.TryGetValue((testCase.Suite, testCase.ClassName, testCase.Name), out List<TestCase>? same))
            {
                same = [];
                listings.Add((testCase.Suite, testCase.ClassName, testCase.Name), same);
                inOrder.Add(same);
            }
            same.Add(testCase);
        }
        return inOrder.Count == cases.Count ? cases : [.. inOrder.Select(One)];
    }

    private static TestCase One(List<TestCase> listings)
    {
        if (listings.Count == 1)
        {
            return listings[0];
        }
        bool Any(TestCaseStatus status) => listings.Exists(c => c.Status == status);
        bool bad = Any(TestCaseStatus.Failed) || Any(TestCaseStatus.Error);
        bool good = Any(TestCaseStatus.Passed) || Any(TestCaseStatus.Flaky);
        TestCaseStatus status =
            Any(TestCaseStatus.Flaky) || (bad && good) ? TestCaseStatus.Flaky
            : Any(TestCaseStatus.Failed) ? TestCaseStatus.Failed
            : Any(TestCaseStatus.Error) ? TestCaseStatus.Error
            : listings.TrueForAll(c => c.Status == TestCaseStatus.Skipped) ? TestCaseStatus.Skipped
            : TestCaseStatus.Passed;
        // Message and text from the listing that shows why: the first failure for a flaky or failed case.
        TestCase why = status switch
        {
            TestCaseStatus.Flaky => listings.First(c => c.Status is TestCaseStatus.Failed or TestCaseStatus.Error or TestCaseStatus.Flaky),
            TestCaseStatus.Passed => listings.First(c => c.Status == TestCaseStatus.Passed),
            _ => listings.First(c => c.Status == status),
        };
        return why with
        {
            Status = status,
            // A rerun is the same test run again, not more of it: the longest listing, not the sum.
            TimeSeconds = listings.Max(c => c.TimeSeconds),
            File = listings.Select(c => c.File).FirstOrDefault(f => f is not null),
            Line = listings.Select(c => c.Line).FirstOrDefault(l => l is not null),
        };
    }
}
