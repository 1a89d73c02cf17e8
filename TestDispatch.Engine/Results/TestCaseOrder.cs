namespace TestDispatch.Engine.Results;

/// <summary>The order a reader wants results in: what needs a look first (failed, error, flaky), then skipped, then passed.</summary>
public static class TestCaseOrder
{
    public static IReadOnlyList<TestCase> FailuresFirst(IEnumerable<TestCase> cases) =>
    [
        .. cases.OrderBy(c => Rank(c.Status))
            .ThenBy(c => c.Suite, StringComparer.Ordinal)
            .ThenBy(c => c.ClassName, StringComparer.Ordinal)
            .ThenBy(c => c.Name, StringComparer.Ordinal),
    ];

    private static int Rank(TestCaseStatus status) => status switch
    {
        TestCaseStatus.Failed => 0,
        TestCaseStatus.Error => 1,
        TestCaseStatus.Flaky => 2,
        TestCaseStatus.Skipped => 3,
        TestCaseStatus.Passed => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}
