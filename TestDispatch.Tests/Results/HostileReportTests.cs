using System.Text;
using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

/// <summary>Reports that break strict parsers, or attack them: each gives its cases or a clear error, never a crash or a hang.</summary>
[Trait("Category", "Unit")]
public class HostileReportTests
{
    private const string BillionLaughs = """
        <?xml version="1.0"?>
        <!DOCTYPE testsuites [
          <!ENTITY lol "lol">
          <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
          <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
          <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
          <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
          <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
          <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
          <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
          <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
          <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
        ]>
        <testsuites><testsuite name="s"><testcase name="&lol9;"><failure message="&lol9;"/></testcase></testsuite></testsuites>
        """;

    [Fact]
    public void Raw_control_characters_are_shown_as_their_pictures()
    {
        byte[] report = Encoding.UTF8.GetBytes("""
            <testsuites><testsuite name="s"><testcase name="colours"><failure message="got ESC[31mred NUL BS">text ESC[0m NUL BS</failure></testcase></testsuite></testsuites>
            """.Replace("ESC", "\u001B", StringComparison.Ordinal).Replace("NUL", "\0", StringComparison.Ordinal).Replace("BS", "\b", StringComparison.Ordinal));

        JUnitReport read = JUnitReports.Read(report);

        Assert.Null(read.Error);
        TestCase testCase = read.Cases.Single();
        Assert.Equal(("got ␛[31mred ␀ ␈", "text ␛[0m ␀ ␈"), (testCase.Message, testCase.Text));
    }

    [Fact]
    public void Escaped_control_characters_are_accepted_and_shown_as_their_pictures()
    {
        JUnitReport read = JUnitReports.Read("""
            <testsuites><testsuite name="s"><testcase name="colours"><failure message="&#27;[31mred&#x1b;[0m">a&#0;b&#8;c</failure></testcase></testsuite></testsuites>
            """);

        Assert.Null(read.Error);
        Assert.Equal(("␛[31mred␛[0m", "a␀b␈c"), (read.Cases[0].Message, read.Cases[0].Text));
    }

    [Fact]
    public void A_truncated_report_keeps_the_cases_before_the_cut_and_names_the_line()
    {
        string whole = File.ReadAllText(JUnitReports.FixturePath("gotestsum-rerun-fails.xml"));
        string truncated = whole[..whole.IndexOf("<testcase classname=\"example.com/lab/sensor\" name=\"TestCalibrate\"", StringComparison.Ordinal)];
        int lastLine = truncated.Count(c => c == '\n') + 1;

        JUnitReport read = JUnitReports.Read(truncated);

        Assert.Equal(["TestReadTemperature", "TestCalibrate/zero_offset", "TestCalibrate/needs_hardware"], read.Cases.Select(c => c.Name));
        JUnitFormatException error = Assert.IsType<JUnitFormatException>(read.Error);
        Assert.Equal((JUnitReports.Name, lastLine), (error.Report, error.Line));
        Assert.StartsWith($"{JUnitReports.Name} line {lastLine}, position ", error.Message, StringComparison.Ordinal);
        Assert.Contains("Unexpected end of file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_billion_laughs_report_is_refused_without_expanding_it()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();

        JUnitReport read = JUnitReports.Read(BillionLaughs);

        // Expanded, &lol9; is a billion "lol"s; refused at the DOCTYPE, the whole read allocates a few hundred KB.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 8 << 20, "the reader allocated more than 8 MiB");
        Assert.Empty(read.Cases);
        JUnitFormatException error = Assert.IsType<JUnitFormatException>(read.Error);
        Assert.StartsWith($"{JUnitReports.Name}: the file has a DTD", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("DtdProcessing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_external_entity_is_refused_and_its_file_never_read()
    {
        using TempDir dir = new();
        File.WriteAllText(dir.Combine("secret"), "the lab's ssh key");

        JUnitReport read = JUnitReports.Read($"""
            <?xml version="1.0"?>
            <!DOCTYPE testsuites [<!ENTITY secret SYSTEM "file://{dir.Combine("secret")}">]>
            <testsuites><testsuite name="&secret;"><testcase name="&secret;"/></testsuite></testsuites>
            """);

        Assert.Empty(read.Cases);
        JUnitFormatException error = Assert.IsType<JUnitFormatException>(read.Error);
        Assert.StartsWith($"{JUnitReports.Name}: the file has a DTD", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ssh key", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "Root element is missing")]
    [InlineData("PASS 12 tests\nFAIL 1 test\n", "Data at the root level is invalid")]
    [InlineData("<project><modelVersion>4.0.0</modelVersion></project>", "the root element is <project>, not <testsuites> or <testsuite>")]
    [InlineData("<testsuites><testsuite><testcase name=\"a\"></testsuite></testsuites>", "does not match the end tag")]
    public void A_file_that_is_not_a_junit_report_is_a_clear_error(string content, string problem)
    {
        JUnitReport read = JUnitReports.Read(content);

        Assert.Empty(read.Cases);
        JUnitFormatException error = Assert.IsType<JUnitFormatException>(read.Error);
        Assert.StartsWith(JUnitReports.Name, error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_reader_itself_hands_out_the_cases_before_the_damage_then_throws_the_format_error()
    {
        using MemoryStream stream = new(Encoding.UTF8.GetBytes("""<testsuite name="s"><testcase name="a"/><testcase name="b"/><testcase name="""));
        List<string> names = [];

        JUnitFormatException error = Assert.Throws<JUnitFormatException>(() =>
        {
            foreach (TestCase testCase in JUnitReader.Read(stream, "junit.xml"))
            {
                names.Add(testCase.Name);
            }
        });

        Assert.Equal(["a", "b"], names);
        Assert.Equal((1, "junit.xml"), (error.Line, error.Report));
    }
}
