namespace TestDispatch.Engine.Results;

/// <summary>
/// The order a reader wants results in: what needs a look first (failed, error, flaky), then skipped, then passed; each
/// status in the order of the reports. Streamed from a run's <see cref="ResultsFile"/>, a pass over it per status present,
/// so memory stays bounded whatever the report's size.
/// </summary>
public static class TestCaseOrder
{
    private static readonly TestCaseStatus[] Ranked =
        [TestCaseStatus.Failed, TestCaseStatus.Error, TestCaseStatus.Flaky, TestCaseStatus.Skipped, TestCaseStatus.Passed];

    /// <summary>
    /// The cases <paramref name="read"/> gives (each call reads them again, in the same order), failures first: the first
    /// pass gives the failed ones and learns which other statuses there are; one more pass gives each of those.
    /// </summary>
    public static IEnumerable<TestCase> FailuresFirst(Func<IEnumerable<TestCase>> read)
    {
        HashSet<TestCaseStatus> later = [];
        foreach (TestCase testCase in read())
        {
            if (testCase.Status == Ranked[0])
            {
                yield return testCase;
            }
            else
            {
                later.Add(testCase.Status);
            }
        }
        foreach (TestCaseStatus status in Ranked.Where(later.Contains))
        {
            foreach (TestCase testCase in read().Where(c => c.Status == status))
            {
                yield return testCase;
            }
        }
    }
}
