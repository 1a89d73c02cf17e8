using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

[Trait("Category", "Unit")]
public class JUnitReaderTests
{
    private static JUnitReport Suite(string cases) =>
        JUnitReports.Read($"""<testsuites><testsuite name="lab">{cases}</testsuite></testsuites>""");

    [Fact]
    public void Reads_passed_failed_error_and_skipped_cases_with_their_messages()
    {
        JUnitReport report = Suite("""
            <testcase classname="lab.Sensor" name="reads" time="0.25"/>
            <testcase classname="lab.Sensor" name="overheats"><failure message="too hot" type="AssertionError">stack of overheats</failure></testcase>
            <testcase classname="lab.Sensor" name="crashes"><error message="segfault">core dumped</error></testcase>
            <testcase classname="lab.Sensor" name="calibrates"><skipped message="no device"/></testcase>
            """);

        Assert.Null(report.Error);
        Assert.Equal(
            [("reads", TestCaseStatus.Passed, ""), ("overheats", TestCaseStatus.Failed, "too hot"),
             ("crashes", TestCaseStatus.Error, "segfault"), ("calibrates", TestCaseStatus.Skipped, "no device")],
            report.Cases.Select(c => (c.Name, c.Status, c.Message)));
        TestCase passed = report.Case("reads");
        Assert.Equal(("lab", "lab.Sensor", 0.25, "", JUnitReports.Name), (passed.Suite, passed.ClassName, passed.TimeSeconds, passed.Text, passed.Report));
        Assert.Equal("stack of overheats", report.Case("overheats").Text);
    }

    [Fact]
    public void A_testsuite_root_is_read_like_a_testsuites_root()
    {
        JUnitReport report = JUnitReports.Read("""<testsuite name="only"><testcase name="a"/></testsuite>""");

        Assert.Equal(("only", "a", TestCaseStatus.Passed), (report.Cases[0].Suite, report.Cases[0].Name, report.Cases[0].Status));
    }

    [Fact]
    public void A_case_with_a_failure_and_an_error_is_failed_with_the_failures_message()
    {
        TestCase testCase = Suite("""
            <testcase name="both"><error message="teardown broke">td</error><failure message="call failed">call</failure></testcase>
            """).Cases.Single();

        Assert.Equal((TestCaseStatus.Failed, "call failed"), (testCase.Status, testCase.Message));
        Assert.Equal("td\ncall", testCase.Text);
    }

    [Fact]
    public void Several_failures_keep_the_first_message_and_the_text_of_all()
    {
        TestCase testCase = Suite("""
            <testcase name="soft"><failure message="first">one</failure><failure message="second">two</failure><system-out>printed</system-out></testcase>
            """).Cases.Single();

        Assert.Equal("first", testCase.Message);
        Assert.Equal("one\ntwo\nprinted", testCase.Text);
    }

    [Fact]
    public void Without_a_message_the_type_or_else_the_first_line_of_the_text_says_why()
    {
        JUnitReport report = Suite("""
            <testcase name="typed"><error type="java.lang.NullPointerException">at Foo.bar</error></testcase>
            <testcase name="bare"><failure>

              Error: expected 2
              at sensor.test.js:14</failure></testcase>
            """);

        Assert.Equal("java.lang.NullPointerException", report.Case("typed").Message);
        Assert.Equal("Error: expected 2", report.Case("bare").Message);
    }

    [Fact]
    public void A_passing_case_keeps_no_text_even_when_it_printed()
    {
        TestCase testCase = Suite("""<testcase name="chatty"><system-out>lots of output</system-out><system-err>and more</system-err></testcase>""").Cases.Single();

        Assert.Equal((TestCaseStatus.Passed, "", ""), (testCase.Status, testCase.Message, testCase.Text));
    }

    [Theory]
    [InlineData("run", TestCaseStatus.Passed)]
    [InlineData("fail", TestCaseStatus.Failed)]
    [InlineData("disabled", TestCaseStatus.Skipped)]
    [InlineData("notrun", TestCaseStatus.Skipped)]
    public void Ctests_status_attribute_decides_even_without_an_element(string status, TestCaseStatus expected)
    {
        TestCase testCase = Suite($"""<testcase name="t" classname="t" status="{status}"><system-out>Disabled</system-out></testcase>""").Cases.Single();

        Assert.Equal(expected, testCase.Status);
    }

    [Theory]
    [InlineData("1.5", 1.5)]
    [InlineData("1,234.5", 1234.5)]
    [InlineData("0", 0.0)]
    [InlineData("2e-3", 0.002)]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("fast", null)]
    [InlineData("-1", null)]
    [InlineData("NaN", null)]
    public void Time_is_seconds_with_or_without_a_thousands_separator_and_null_when_not_a_number(string? time, double? expected)
    {
        string attribute = time is null ? "" : $""" time="{time}" """;

        Assert.Equal(expected, Suite($"<testcase name=\"t\"{attribute}/>").Cases.Single().TimeSeconds);
    }

    [Fact]
    public void File_and_line_come_from_the_case_else_its_suite_else_a_classname_that_is_a_script()
    {
        JUnitReport report = JUnitReports.Read("""
            <testsuites><testsuite name="s" file="tests/suite.php">
              <testcase name="own" file="tests/own.php" line="12"/>
              <testcase name="inherits"/>
            </testsuite>
            <testsuite name="bats">
              <testcase name="script" classname="test/lab.bats"/>
              <testcase name="module" classname="lab.sensor.Test"/>
              <testcase name="bad line" file="x.c" line="twelve"/>
            </testsuite></testsuites>
            """);

        Assert.Equal(
            [("tests/own.php", 12), ("tests/suite.php", null), ("test/lab.bats", null), (null, null), ("x.c", null)],
            report.Cases.Select(c => (c.File, c.Line)));
    }

    [Fact]
    public void Pytests_zero_based_line_is_made_one_based()
    {
        TestCase testCase = JUnitReports.Read("""
            <testsuites><testsuite name="pytest"><testcase classname="test_lab" name="test_passes" file="test_lab.py" line="2"/></testsuite></testsuites>
            """).Cases.Single();

        Assert.Equal(("test_lab.py", 3), (testCase.File, testCase.Line));
    }

    [Fact]
    public void Nested_suites_name_each_case_after_the_innermost_named_suite()
    {
        JUnitReport report = JUnitReports.Read("""
            <testsuites><testsuite name="all"><testsuite name="unit">
              <testsuite name="Calc"><testcase name="adds"/><testsuite name=""><testcase name="divides"/></testsuite></testsuite>
              <testsuite name="Empty"/>
              <testcase name="loose"/>
            </testsuite></testsuite></testsuites>
            """);

        Assert.Equal([("Calc", "adds"), ("Calc", "divides"), ("unit", "loose")], report.Cases.Select(c => (c.Suite, c.Name)));
    }

    [Theory]
    [InlineData("failed", "passed", TestCaseStatus.Flaky, "failed 0.5")]
    [InlineData("failed", "failed", TestCaseStatus.Failed, "failed 0.5")]
    [InlineData("error", "failed", TestCaseStatus.Failed, "failed 0.25")]
    [InlineData("error", "passed", TestCaseStatus.Flaky, "error 0.5")]
    [InlineData("passed", "passed", TestCaseStatus.Passed, "")]
    [InlineData("skipped", "skipped", TestCaseStatus.Skipped, "")]
    [InlineData("skipped", "passed", TestCaseStatus.Passed, "")]
    public void The_same_case_listed_twice_is_one_case(string first, string second, TestCaseStatus expected, string message)
    {
        static string Listing(string status, double time) => status switch
        {
            "failed" => $"""<testcase classname="pkg" name="TestBus" time="{time}"><failure message="failed {time}">out</failure></testcase>""",
            "error" => $"""<testcase classname="pkg" name="TestBus" time="{time}"><error message="error {time}">out</error></testcase>""",
            "skipped" => """<testcase classname="pkg" name="TestBus"><skipped/></testcase>""",
            _ => $"""<testcase classname="pkg" name="TestBus" time="{time}"/>""",
        };

        JUnitReport report = Suite(Listing(first, 0.5) + """<testcase classname="pkg" name="Other"/>""" + Listing(second, 0.25));

        Assert.Equal(["TestBus", "Other"], report.Cases.Select(c => c.Name));
        TestCase merged = report.Case("TestBus");
        Assert.Equal((expected, message), (merged.Status, merged.Message));
    }

    [Fact]
    public void Cases_of_the_same_name_in_other_suites_or_classes_stay_apart()
    {
        JUnitReport report = JUnitReports.Read("""
            <testsuites>
              <testsuite name="a"><testcase classname="x" name="t"><failure/></testcase><testcase classname="y" name="t"/></testsuite>
              <testsuite name="b"><testcase classname="x" name="t"/></testsuite>
            </testsuites>
            """);

        Assert.Equal([TestCaseStatus.Failed, TestCaseStatus.Passed, TestCaseStatus.Passed], report.Cases.Select(c => c.Status));
    }

    [Fact]
    public void A_report_without_cases_has_none_and_no_error()
    {
        JUnitReport report = JUnitReports.Read("""<?xml version="1.0"?><!-- nothing ran --><testsuites/>""");

        Assert.Empty(report.Cases);
        Assert.Null(report.Error);
    }
}
