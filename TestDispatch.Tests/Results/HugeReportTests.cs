using System.Text;
using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

/// <summary>A 200 MB report, written at test time (real disk): read as a stream, each case's text bounded.</summary>
[Trait("Category", "Integration")]
public class HugeReportTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void A_200_MB_report_is_streamed_and_each_case_keeps_only_the_head_and_tail_of_its_text()
    {
        using TempDir dir = new();
        string path = dir.Combine("junit.xml");
        WriteHugeReport(path);
        long size = new FileInfo(path).Length;
        Assert.True(size >= 200 * MiB, $"the report is {size} bytes");

        using CountingStream stream = new(File.OpenRead(path));
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        List<TestCase> cases = [];
        long readAtFirstCase = -1;
        foreach (TestCase testCase in JUnitReader.Read(stream, "junit.xml"))
        {
            if (cases.Count == 0)
            {
                readAtFirstCase = stream.BytesRead;
            }
            cases.Add(testCase);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.True(readAtFirstCase < MiB, $"the first case came after reading {readAtFirstCase} bytes");
        Assert.Equal(size, stream.BytesRead);
        // Holding any one of the big texts whole would take 180 MB (90 M characters); the whole read allocates under 1 MB.
        Assert.True(allocated < 8 * MiB, $"reading allocated {allocated} bytes");
        Assert.Equal(["first", "huge failure", "huge passing output", "huge output after a failure", "last"], cases.Select(c => c.Name));
        Assert.All(cases, c => Assert.InRange(c.Text.Length, 0, TestCase.MaxTextLength));

        TestCase failure = cases[1];
        Assert.Equal(TestCaseStatus.Failed, failure.Status);
        Assert.StartsWith("failure line 0 of the sensor log", failure.Text, StringComparison.Ordinal);
        Assert.Matches(@"\[… [\d,]+ characters cut …\]", failure.Text);
        Assert.EndsWith($"failure line {HugeLines - 1}{LineEnd}", failure.Text, StringComparison.Ordinal);

        Assert.Equal((TestCaseStatus.Passed, ""), (cases[2].Status, cases[2].Text));

        TestCase output = cases[3];
        Assert.Equal((TestCaseStatus.Failed, "probe timed out"), (output.Status, output.Message));
        Assert.StartsWith("the probe did not answer", output.Text, StringComparison.Ordinal);
        Assert.EndsWith("the last line before the end", output.Text, StringComparison.Ordinal);
    }

    private const int HugeLines = 1_000_000;
    private const string LineEnd = " of the sensor log, padded to make the file big: xxxxxxxxxxxxxxxxxx";

    /// <summary>Five cases; three carry about 90 MB of text each (a million 90-byte lines).</summary>
    private static void WriteHugeReport(string path)
    {
        using StreamWriter writer = new(path, false, new UTF8Encoding(false), 1 << 16);
        void Lines(string what)
        {
            for (int i = 0; i < HugeLines; i++)
            {
                writer.Write(what);
                writer.Write(" line ");
                writer.Write(i);
                writer.Write(LineEnd);
                writer.Write('\n');
            }
        }

        writer.Write("""<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="big">""");
        writer.Write("""<testcase name="first" time="0.1"/>""");
        writer.Write("""<testcase name="huge failure"><failure message="overflow">""");
        Lines("failure");
        writer.Write("""</failure></testcase><testcase name="huge passing output"><system-out>""");
        Lines("passing");
        writer.Write("""</system-out></testcase><testcase name="huge output after a failure"><failure message="probe timed out">the probe did not answer</failure><system-out>""");
        Lines("output");
        writer.Write("the last line before the end</system-out></testcase>");
        writer.Write("""<testcase name="last"/></testsuite></testsuites>""");
    }
}
