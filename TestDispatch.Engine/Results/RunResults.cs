namespace TestDispatch.Engine.Results;

/// <summary>
/// The test results of one run, from every JUnit report it left, once its cases are in its <see cref="ResultsFile"/>:
/// their counts, its failed and error cases without their text, and one line per report that could not be read whole
/// ("artifacts/junit.xml line 17, position 3: Unexpected end of file …"). A damaged report still gives the cases before its damage.
/// </summary>
public sealed record RunResults(TestCounts Counts, IReadOnlyList<TestCase> Failures, IReadOnlyList<string> Errors)
{
    public static RunResults Empty { get; } = new(TestCounts.Zero, [], []);

    /// <summary>Whether the run left neither a case nor a damaged report.</summary>
    public bool IsEmpty => Counts.Total == 0 && Errors.Count == 0;

    /// <summary>Finds the run's reports (<see cref="ResultsFinder.Find"/>) and writes their cases to <paramref name="resultsPath"/> (<see cref="Write"/>).</summary>
    public static RunResults Collect(
        string artifactsDir, string resultsPath, IReadOnlyList<string>? patterns = null, string? workDir = null, CancellationToken cancellationToken = default) =>
        Write(ResultsFinder.Find(artifactsDir, patterns, workDir), resultsPath, cancellationToken);

    /// <summary>
    /// Reads the reports in order and writes each case to the <see cref="ResultsFile"/> at <paramref name="resultsPath"/> as it
    /// is read, in bounded memory whatever their size: only counts and failures are kept. Cases a report lists more than once
    /// are merged (<see cref="RepeatedCases"/>) by reading the file again. No case read, no file. Writing it may throw (I/O).
    /// </summary>
    public static RunResults Write(IEnumerable<ReportFile> reports, string resultsPath, CancellationToken cancellationToken = default)
    {
        List<string> errors = [];
        RepeatedCases repeated = new();
        Tally tally = new();
        ResultsFile.Write(resultsPath, tally.Count(repeated.Watch(ReadAll(reports, errors, cancellationToken))));
        if (repeated.Any)
        {
            tally = new Tally();
            ResultsFile.Write(resultsPath, tally.Count(repeated.Merge(() => ResultsFile.Stream(resultsPath))));
        }
        if (tally.Counts.Total == 0)
        {
            File.Delete(resultsPath);
        }
        return new RunResults(tally.Counts, tally.Failures, errors);
    }

    private static IEnumerable<TestCase> ReadAll(IEnumerable<ReportFile> reports, List<string> errors, CancellationToken cancellationToken)
    {
        foreach (ReportFile report in reports)
        {
            using IEnumerator<TestCase> reading = JUnitReader.Read(report.Path, report.Name).GetEnumerator();
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    if (!reading.MoveNext())
                    {
                        break;
                    }
                }
                catch (JUnitFormatException e)
                {
                    errors.Add(e.Message);
                    break;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Found a moment ago, gone or unreadable now: say so, and keep the other reports.
                    errors.Add($"{report.Name}: could not be read: {e.Message}");
                    break;
                }
                yield return reading.Current;
            }
        }
    }

    /// <summary>Counts the cases going by, and keeps the failures' names and messages.</summary>
    private sealed class Tally
    {
        private readonly List<TestCase> _failures = [];

        public TestCounts Counts { get; private set; } = TestCounts.Zero;
        public IReadOnlyList<TestCase> Failures => _failures;

        public IEnumerable<TestCase> Count(IEnumerable<TestCase> cases)
        {
            foreach (TestCase testCase in cases)
            {
                Counts = Counts.Plus(testCase.Status);
                if (CaseHistory.IsFailure(testCase.Status))
                {
                    _failures.Add(testCase with { Text = "" });
                }
                yield return testCase;
            }
        }
    }
}
