using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

/// <summary>Reports written by the real producers, run here: pytest and ctest. A missing producer fails the test.</summary>
[Trait("Category", "Integration")]
public class RealProducerTests
{
    private const string PytestFile = """
        import pytest


        def test_passes():
            assert 1 + 1 == 2


        def test_fails():
            print("reading the sensor")
            assert 1 + 1 == 3, "arithmetic is broken"


        @pytest.mark.skip(reason="no sensor attached")
        def test_skipped():
            pass


        @pytest.fixture
        def sensor():
            yield "sensor"
            raise RuntimeError("sensor did not power down")


        def test_fails_and_its_teardown_errors(sensor):
            assert sensor == "probe"

        """;

    [Theory]
    [InlineData("xunit2")]
    [InlineData("xunit1")]
    public async Task Pytest_junitxml_is_read_with_its_statuses_and_a_failed_teardown_folded_into_its_case(string family)
    {
        string pytest = Producers.Find("python3-pytest", "pytest-3", "pytest");
        using TempDir dir = new();
        File.WriteAllText(dir.Combine("test_lab.py"), PytestFile);

        var run = await Producers.Run(pytest, dir.Path, "-p", "no:cacheprovider", "-o", $"junit_family={family}",
            "-o", "junit_logging=system-out", $"--junitxml={dir.Combine("junit.xml")}", "test_lab.py");
        Assert.True(File.Exists(dir.Combine("junit.xml")), $"pytest wrote no report (exit {run.ExitCode}): {run.StandardOutput}{run.StandardError}");

        JUnitReport report = JUnitReport.Read(dir.Combine("junit.xml"), "junit.xml");

        Assert.Null(report.Error);
        Assert.Equal(
            [("test_passes", TestCaseStatus.Passed), ("test_fails", TestCaseStatus.Failed), ("test_skipped", TestCaseStatus.Skipped),
             ("test_fails_and_its_teardown_errors", TestCaseStatus.Failed)],
            report.Cases.Select(c => (c.Name, c.Status)));
        Assert.All(report.Cases, c => Assert.Equal(("pytest", "test_lab"), (c.Suite, c.ClassName)));
        TestCase failed = report.Case("test_fails");
        Assert.StartsWith("AssertionError: arithmetic is broken", failed.Message, StringComparison.Ordinal);
        Assert.Contains("test_lab.py:10: AssertionError", failed.Text, StringComparison.Ordinal);
        Assert.Contains("reading the sensor", failed.Text, StringComparison.Ordinal);
        Assert.Equal("no sensor attached", report.Case("test_skipped").Message);
        Assert.StartsWith("AssertionError", report.Case("test_fails_and_its_teardown_errors").Message, StringComparison.Ordinal);
        Assert.Equal(new TestCounts(4, 1, 2, 0, 1, 0), TestCounts.Of(report.Cases));
        // Only the legacy xunit1 family names the file and line; pytest's line is 0-based, ours 1-based.
        (string?, int?) expected = family == "xunit1" ? ("test_lab.py", 8) : (null, null);
        Assert.Equal(expected, (failed.File, failed.Line));
    }

    [Fact]
    public async Task Ctest_output_junit_is_read_with_its_disabled_and_not_run_tests_skipped()
    {
        string cmake = Producers.Find("cmake", "cmake");
        string ctest = Producers.Find("cmake", "ctest");
        using TempDir dir = new();
        Directory.CreateDirectory(dir.Combine("src"));
        File.WriteAllText(dir.Combine("src", "CMakeLists.txt"), """
            cmake_minimum_required(VERSION 3.21)
            project(lab NONE)
            enable_testing()
            add_test(NAME passes COMMAND sh -c "echo all good")
            add_test(NAME fails COMMAND sh -c "echo sensor out of range; exit 3")
            add_test(NAME disabled COMMAND sh -c "true")
            set_tests_properties(disabled PROPERTIES DISABLED TRUE)
            add_test(NAME missing COMMAND /nonexistent/sensor-tool)
            """);

        var configure = await Producers.Run(cmake, dir.Path, "-S", "src", "-B", "build");
        Assert.True(configure.ExitCode == 0, $"cmake failed: {configure.StandardOutput}{configure.StandardError}");
        var run = await Producers.Run(ctest, dir.Path, "--test-dir", "build", "--output-junit", dir.Combine("junit.xml"));
        Assert.True(File.Exists(dir.Combine("junit.xml")), $"ctest wrote no report (exit {run.ExitCode}): {run.StandardOutput}{run.StandardError}");

        JUnitReport report = JUnitReport.Read(dir.Combine("junit.xml"), "junit.xml");

        Assert.Null(report.Error);
        Assert.Equal(
            [("passes", TestCaseStatus.Passed), ("fails", TestCaseStatus.Failed), ("disabled", TestCaseStatus.Skipped), ("missing", TestCaseStatus.Skipped)],
            report.Cases.Select(c => (c.Name, c.Status)));
        // ctest's failure has an empty message; what the test printed is its system-out.
        Assert.Equal(("", "sensor out of range"), (report.Case("fails").Message, report.Case("fails").Text));
        Assert.Equal("Unable to find executable", report.Case("missing").Message);
        Assert.Contains("/nonexistent/sensor-tool", report.Case("missing").Text, StringComparison.Ordinal);
        Assert.All(report.Cases, c => Assert.True(c.TimeSeconds is >= 0, $"{c.Name} has no time"));
    }
}
