using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

[Trait("Category", "Integration")]
public class ResultsFileTests
{
    [Fact]
    public void The_cases_of_a_run_come_back_from_results_jsonl_as_they_were_written()
    {
        using TempDir dir = new();
        string path = dir.Combine(ResultsFile.FileName);
        IReadOnlyList<TestCase> cases = [
            .. JUnitReports.Fixture("surefire-TEST-com.example.lab.SensorTest.xml").Cases,
            .. JUnitReports.Read("""<testsuite name="s"><testcase name="esc"><failure message="&#27;[31m">"quoted"&#10;line</failure></testcase></testsuite>""").Cases,
        ];

        ResultsFile.Write(path, cases);

        Assert.Equal(cases, ResultsFile.Read(path));
        Assert.Equal(cases.Count, File.ReadAllLines(path).Length);
        Assert.Equal([ResultsFile.FileName], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void A_lone_surrogate_from_a_character_reference_is_read_and_written_as_a_replacement_character()
    {
        using TempDir dir = new();
        string path = dir.Combine(ResultsFile.FileName);
        IReadOnlyList<TestCase> cases = JUnitReports.Read(
            """<testsuite name="s"><testcase name="half&#xD800;"><failure message="a&#xDC00;b">x&#xD83D;</failure></testcase></testsuite>""").Cases;

        Assert.Equal(("half\uFFFD", "a\uFFFDb", "x\uFFFD"), (cases[0].Name, cases[0].Message, cases[0].Text));
        ResultsFile.Write(path, cases);

        TestCase read = Assert.Single(ResultsFile.Read(path));
        Assert.Equal(("half\uFFFD", "a\uFFFDb", "x\uFFFD"), (read.Name, read.Message, read.Text));
    }

    [Fact]
    public void Each_line_is_one_case_in_snake_case_with_status_words()
    {
        using TempDir dir = new();
        string path = dir.Combine(ResultsFile.FileName);
        TestCase testCase = new()
        {
            Suite = "s",
            ClassName = "c",
            Name = "n",
            Status = TestCaseStatus.Flaky,
            TimeSeconds = 1.5,
            Message = "m",
            Text = "t",
            File = "f.py",
            Line = 3,
            Report = "artifacts/junit.xml",
        };

        ResultsFile.Write(path, [testCase]);

        Assert.Equal(
            """{"suite":"s","class_name":"c","name":"n","status":"flaky","time_seconds":1.5,"message":"m","text":"t","file":"f.py","line":3,"report":"artifacts/junit.xml"}""",
            File.ReadAllText(path).TrimEnd('\n'));
    }

    [Fact]
    public void A_line_that_is_not_a_case_is_an_error_naming_the_file_and_line()
    {
        using TempDir dir = new();
        string path = dir.Combine(ResultsFile.FileName);
        File.WriteAllText(path, """{"suite":"s","name":"n","status":"passed","report":"r"}""" + "\n{\"suite\":\n");

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => ResultsFile.Read(path));

        Assert.StartsWith($"{path} line 2: ", error.Message, StringComparison.Ordinal);
    }
}
