namespace TestDispatch.Engine.Results;

/// <summary>
/// The test results of one run, from every JUnit report it left: the cases in report order, their counts, and one
/// line per report that could not be read whole ("artifacts/junit.xml line 17, position 3: Unexpected end of file …").
/// A damaged report still gives the cases before its damage.
/// </summary>
public sealed record RunResults(IReadOnlyList<TestCase> Cases, TestCounts Counts, IReadOnlyList<string> Errors)
{
    public static RunResults Empty { get; } = new([], TestCounts.Zero, []);

    /// <summary>Finds the run's reports (<see cref="ResultsFinder.Find"/>) and reads them.</summary>
    public static RunResults Collect(
        string artifactsDir, IReadOnlyList<string>? patterns = null, string? workDir = null, CancellationToken cancellationToken = default) =>
        Read(ResultsFinder.Find(artifactsDir, patterns, workDir), cancellationToken);

    public static RunResults Read(IEnumerable<ReportFile> reports, CancellationToken cancellationToken = default)
    {
        List<TestCase> cases = [];
        List<string> errors = [];
        foreach (ReportFile report in reports)
        {
            try
            {
                JUnitReport read = JUnitReport.Read(report.Path, report.Name, cancellationToken);
                cases.AddRange(read.Cases);
                if (read.Error is { } damage)
                {
                    errors.Add(damage.Message);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Found a moment ago, gone or unreadable now: say so, and keep the other reports.
                errors.Add($"{report.Name}: could not be read: {e.Message}");
            }
        }
        return new RunResults(cases, TestCounts.Of(cases), errors);
    }
}
