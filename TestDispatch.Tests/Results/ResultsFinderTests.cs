using CliWrap;
using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

[Trait("Category", "Integration")]
public class ResultsFinderTests
{
    private const string Report = """<?xml version="1.0"?><testsuites><testsuite name="s"><testcase name="a"/></testsuite></testsuites>""";

    private static void Write(TempDir dir, string relative, string content)
    {
        string path = dir.Combine(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    [Fact]
    public void Finds_every_junit_xml_under_the_artifacts_and_passes_over_other_xml()
    {
        using TempDir dir = new();
        Write(dir, "run/artifacts/junit.xml", Report);
        Write(dir, "run/artifacts/deep/er/TEST-Sensor.XML", """<testsuite name="x"/>""");
        Write(dir, "run/artifacts/pom.xml", "<project/>");
        Write(dir, "run/artifacts/notes.txt", Report);
        Write(dir, "run/artifacts/empty.xml", "");
        Write(dir, "run/artifacts/commented.xml", $"<?xml version=\"1.0\"?>\n<!-- {new string('c', 2000)} -->\n<testsuites/>");

        IReadOnlyList<ReportFile> found = ResultsFinder.Find(dir.Combine("run", "artifacts"));

        Assert.Equal(["artifacts/commented.xml", "artifacts/deep/er/TEST-Sensor.XML", "artifacts/junit.xml"], found.Select(f => f.Name));
        Assert.Equal(dir.Combine("run", "artifacts", "junit.xml"), found[2].Path);
    }

    [Fact]
    public void Glob_patterns_find_reports_in_the_work_dir_once_each()
    {
        using TempDir dir = new();
        Write(dir, "work/build/test-results/TEST-a.xml", Report);
        Write(dir, "work/build/test-results/sub/TEST-b.xml", Report);
        Write(dir, "work/build/test-results/other.xml", "<project/>");
        Write(dir, "work/artifacts/junit.xml", Report);

        IReadOnlyList<ReportFile> found = ResultsFinder.Find(
            dir.Combine("work", "artifacts"), ["build/test-results/**/*.xml", "artifacts/*.xml", "build/**/TEST-a.xml"], dir.Combine("work"));

        Assert.Equal(
            ["artifacts/junit.xml", "build/test-results/TEST-a.xml", "build/test-results/sub/TEST-b.xml"],
            found.Select(f => f.Name));
    }

    [Fact]
    public void A_report_with_a_dtd_is_found_so_that_reading_it_can_refuse_it_aloud()
    {
        using TempDir dir = new();
        Write(dir, "artifacts/junit.xml", """<?xml version="1.0"?><!DOCTYPE testsuites [<!ENTITY a "aaaa">]><testsuites/>""");

        Assert.Single(ResultsFinder.Find(dir.Combine("artifacts")));
    }

    [Fact]
    public void Symbolic_links_are_never_followed_out_of_the_directories()
    {
        using TempDir dir = new();
        Write(dir, "outside/secret/junit.xml", Report);
        Write(dir, "work/artifacts/real.xml", Report);
        File.CreateSymbolicLink(dir.Combine("work", "artifacts", "linked.xml"), dir.Combine("outside", "secret", "junit.xml"));
        Directory.CreateSymbolicLink(dir.Combine("work", "artifacts", "linked-dir"), dir.Combine("outside", "secret"));
        Directory.CreateSymbolicLink(dir.Combine("work", "loop"), dir.Combine("work"));
        Directory.CreateSymbolicLink(dir.Combine("work", "up"), dir.Path);

        IReadOnlyList<ReportFile> found = ResultsFinder.Find(
            dir.Combine("work", "artifacts"), ["**/*.xml", "../outside/**/*.xml", "up/outside/secret/junit.xml"], dir.Combine("work"));

        Assert.Equal(["artifacts/real.xml"], found.Select(f => f.Name));
    }

    [Fact]
    public async Task A_fifo_named_like_a_report_is_passed_over_not_waited_on()
    {
        using TempDir dir = new();
        Write(dir, "artifacts/junit.xml", Report);
        await Cli.Wrap("mkfifo").WithArguments(dir.Combine("artifacts", "pipe.xml")).ExecuteAsync();

        Assert.Equal(["artifacts/junit.xml"], ResultsFinder.Find(dir.Combine("artifacts")).Select(f => f.Name));
    }

    [Fact]
    public void A_run_without_artifacts_has_no_reports() =>
        Assert.Empty(ResultsFinder.Find("/nonexistent/testdispatch/artifacts"));
}
