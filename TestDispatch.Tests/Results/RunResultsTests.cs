using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

[Trait("Category", "Integration")]
public class RunResultsTests
{
    [Fact]
    public void Collects_the_cases_of_every_report_and_one_error_line_per_damaged_report()
    {
        using TempDir dir = new();
        string artifacts = dir.Combine("artifacts");
        Directory.CreateDirectory(Path.Combine(artifacts, "go"));
        File.Copy(JUnitReports.FixturePath("surefire-TEST-com.example.lab.SensorTest.xml"), Path.Combine(artifacts, "TEST-Sensor.xml"));
        File.Copy(JUnitReports.FixturePath("gotestsum-rerun-fails.xml"), Path.Combine(artifacts, "go", "junit.xml"));
        File.WriteAllText(Path.Combine(artifacts, "broken.xml"), "<testsuite name=\"b\">\n<testcase name=\"kept\"/>\n<testcase name=\"cut");

        RunResults results = RunResults.Collect(artifacts, dir.Combine(ResultsFile.FileName));

        IReadOnlyList<TestCase> cases = ResultsFile.Read(dir.Combine(ResultsFile.FileName));
        Assert.Equal(1 + 5 + 7, cases.Count);
        Assert.Equal(new TestCounts(13, 6, 2, 1, 2, 2), results.Counts);
        Assert.Equal(TestCounts.Of(cases), results.Counts);
        Assert.Equal(
            ["artifacts/TEST-Sensor.xml", "artifacts/broken.xml", "artifacts/go/junit.xml"],
            cases.Select(c => c.Report).Distinct());
        Assert.Equal("artifacts/broken.xml", cases.Single(c => c.Name == "kept").Report);
        Assert.Equal(cases.Where(c => CaseHistory.IsFailure(c.Status)).Select(c => (c.FullName, c.Message)),
            results.Failures.Select(c => (c.FullName, c.Message)));
        string error = Assert.Single(results.Errors);
        Assert.StartsWith("artifacts/broken.xml line 3, position ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_report_gone_between_finding_and_reading_is_an_error_line_not_an_exception()
    {
        using TempDir dir = new();
        RunResults results = RunResults.Write([new ReportFile("/nonexistent/junit.xml", "artifacts/junit.xml")], dir.Combine(ResultsFile.FileName));

        Assert.Equal(TestCounts.Zero, results.Counts);
        Assert.False(File.Exists(dir.Combine(ResultsFile.FileName)));
        Assert.StartsWith("artifacts/junit.xml: could not be read: ", Assert.Single(results.Errors), StringComparison.Ordinal);
    }
}
