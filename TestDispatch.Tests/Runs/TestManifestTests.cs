using System.IO.Abstractions.TestingHelpers;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tests.Runs;

[Trait("Category", "Unit")]
public class TestManifestTests
{
    private static MockFileSystem With(string json) => new(new Dictionary<string, MockFileData>
    {
        ["/t/testdispatch.json"] = new(json),
    });

    [Fact]
    public void Reads_the_command_and_timeout()
    {
        TestManifest manifest = TestManifest.Read(With("""{ "command": ["make", "check"], "timeout": "10m" }"""), "/t")!;

        Assert.Equal(["make", "check"], manifest.Command);
        Assert.Equal(TimeSpan.FromMinutes(10), manifest.Timeout);
    }

    [Fact]
    public void Reads_the_report_patterns_and_refuses_one_that_leaves_the_work_dir()
    {
        Assert.Equal(["build/**/*.xml"], TestManifest.Read(With("""{ "results": ["build/**/*.xml"] }"""), "/t")!.Results);
        Assert.Empty(TestManifest.Read(With("""{ "timeout": "1m" }"""), "/t")!.Results);

        DispatchException error = Assert.Throws<DispatchException>(() => TestManifest.Read(With("""{ "results": ["../other/*.xml"] }"""), "/t"));

        Assert.Contains("\"results\" pattern '../other/*.xml'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_test_without_a_manifest_has_none() => Assert.Null(TestManifest.Read(new MockFileSystem(), "/t"));

    [Theory]
    [InlineData("""{ "command": ["x"], """, "not valid JSON")]
    [InlineData("""{ "command": [] }""", "empty \"command\"")]
    [InlineData("""{ "timeout": "forever" }""", "not a duration")]
    [InlineData("""{ "comand": ["x"] }""", "not valid JSON")]
    public void Bad_content_is_refused_naming_the_file_and_the_problem(string json, string problem)
    {
        DispatchException error = Assert.Throws<DispatchException>(() => TestManifest.Read(With(json), "/t"));

        Assert.Equal(ErrorCodes.BadInput, error.ErrorCode);
        Assert.Contains("/t/testdispatch.json", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }
}
