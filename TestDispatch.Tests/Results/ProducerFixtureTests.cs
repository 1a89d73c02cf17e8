using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

/// <summary>Reports in the shapes that gotestsum, Maven Surefire, jest-junit and PHPUnit write (Results/Fixtures).</summary>
[Trait("Category", "Unit")]
public class ProducerFixtureTests
{
    [Fact]
    public void Gotestsum_rerun_fails_a_case_that_failed_then_passed_is_flaky_and_one_that_failed_twice_is_failed()
    {
        JUnitReport report = JUnitReports.Fixture("gotestsum-rerun-fails.xml");

        Assert.Null(report.Error);
        Assert.Equal(
            [("example.com/lab/sensor", "TestReadTemperature", TestCaseStatus.Passed),
             ("example.com/lab/sensor", "TestCalibrate/zero_offset", TestCaseStatus.Passed),
             ("example.com/lab/sensor", "TestCalibrate/needs_hardware", TestCaseStatus.Skipped),
             ("example.com/lab/sensor", "TestCalibrate", TestCaseStatus.Passed),
             ("example.com/lab/sensor", "TestFlakyBus", TestCaseStatus.Flaky),
             ("example.com/lab/sensor", "TestAlwaysBroken", TestCaseStatus.Failed),
             ("example.com/lab/bus", "TestReadTemperature", TestCaseStatus.Passed)],
            report.Cases.Select(c => (c.Suite, c.Name, c.Status)));
        TestCase flaky = report.Case("TestFlakyBus");
        Assert.Equal(("Failed", 0.5), (flaky.Message, flaky.TimeSeconds));
        Assert.Contains("bus_test.go:42: timeout waiting for ack", flaky.Text, StringComparison.Ordinal);
        Assert.Contains("no sensor attached", report.Case("TestCalibrate/needs_hardware").Message, StringComparison.Ordinal);
        Assert.Equal(new TestCounts(7, 4, 1, 0, 1, 1), TestCounts.Of(report.Cases));
    }

    [Fact]
    public void Surefire_flaky_and_rerun_failures_and_thousands_separators_are_read()
    {
        JUnitReport report = JUnitReports.Fixture("surefire-TEST-com.example.lab.SensorTest.xml");

        Assert.Null(report.Error);
        Assert.All(report.Cases, c => Assert.Equal(("com.example.lab.SensorTest", "com.example.lab.SensorTest"), (c.Suite, c.ClassName)));
        Assert.Equal(1200.25, report.Case("readsTemperature").TimeSeconds);

        TestCase flaky = report.Case("busIsFlaky");
        Assert.Equal((TestCaseStatus.Flaky, "expected: <1> but was: <2>"), (flaky.Status, flaky.Message));
        Assert.Contains("SensorTest.java:31", flaky.Text, StringComparison.Ordinal);
        Assert.Contains("bus attempt 1", flaky.Text, StringComparison.Ordinal);

        TestCase rerun = report.Case("alwaysTimesOut");
        Assert.Equal((TestCaseStatus.Failed, "timed out after 2 seconds"), (rerun.Status, rerun.Message));
        Assert.Contains("(rerun)", rerun.Text, StringComparison.Ordinal);
        Assert.EndsWith("waiting for the device", rerun.Text, StringComparison.Ordinal);

        Assert.Equal((TestCaseStatus.Skipped, "no device attached"), (report.Case("needsHardware").Status, report.Case("needsHardware").Message));
        Assert.Equal((TestCaseStatus.Error, "java.lang.NullPointerException"), (report.Case("nullDevice").Status, report.Case("nullDevice").Message));
    }

    [Fact]
    public void Jest_junit_failures_without_a_message_take_their_first_line()
    {
        JUnitReport report = JUnitReports.Fixture("jest-junit.xml");

        Assert.Null(report.Error);
        TestCase failed = report.Case("sensor readings rejects a negative kelvin");
        Assert.Equal((TestCaseStatus.Failed, "sensor readings", "Error: expect(received).toThrow()"), (failed.Status, failed.Suite, failed.Message));
        Assert.Contains("sensor.test.js:14:36", failed.Text, StringComparison.Ordinal);
        Assert.Equal(TestCaseStatus.Skipped, report.Case("sensor readings calibrates later").Status);
        Assert.Equal(("bus", "/work/lab/bus.test.js"), (report.Case("bus acks a frame").Suite, report.Case("bus acks a frame").File));
    }

    [Fact]
    public void Phpunit_nested_suites_are_walked_to_every_case()
    {
        JUnitReport report = JUnitReports.Fixture("phpunit-nested.xml");

        Assert.Null(report.Error);
        Assert.Equal(
            [("Lab\\Tests\\CalculatorTest", "testAdds", 12), ("Lab\\Tests\\CalculatorTest::testDivides", "testDivides with data set #0", 20),
             ("Lab\\Tests\\CalculatorTest::testDivides", "testDivides with data set #1", 20), ("Lab\\Tests\\BusTest", "testAcks", (int?)null)],
            report.Cases.Select(c => (c.Suite, c.Name, c.Line)));
        TestCase failed = report.Case("testDivides with data set #1");
        Assert.Equal((TestCaseStatus.Failed, "PHPUnit\\Framework\\ExpectationFailedException"), (failed.Status, failed.Message));
        Assert.Contains("Failed asserting that 0 matches expected 2.", failed.Text, StringComparison.Ordinal);
        Assert.Equal("/work/lab/tests/BusTest.php", report.Case("testAcks").File);
    }
}
