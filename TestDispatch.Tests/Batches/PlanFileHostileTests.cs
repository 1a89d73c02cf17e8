using System.IO.Abstractions.TestingHelpers;
using System.Text;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tests.Batches;

/// <summary>Bytes that are not text, an empty path or a directory: a bad plan (plan_invalid naming the file), not an internal error.</summary>
[Trait("Category", "Unit")]
public class PlanFileHostileTests
{
    private const string Entry = """{ "name": "boot", "test_dir": "../tests/boot", "machine": "rig-1" }""";

    private static readonly LabConfig Config = new("/state", new RunDefaults(["./run.sh"], TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(2)),
        [new Machine { Name = "rig-1", Transport = TransportKind.Local, Tags = ["x86"] }]);

    private readonly MockFileSystem _fs = new(new Dictionary<string, MockFileData> { ["/lab/tests/boot/run.sh"] = new("echo boot") });

    public static TheoryData<string, string> NotText => new()
    {
        // {0} becomes the byte 0xFF, which is never UTF-8
        { "name", """{ "name": "a{0}b", "entries": [ ENTRY ] }""" },
        { "top-level key", """{ "{0}": 1, "entries": [ ENTRY ] }""" },
        { "entry string", """{ "entries": [ { "name": "b{0}", "test_dir": "../tests/boot", "machine": "rig-1" } ] }""" },
        { "entry key", """{ "entries": [ { "n{0}": "b", "test_dir": "../tests/boot", "machine": "rig-1" } ] }""" },
    };

    private DispatchException Refused(string path)
    {
        var error = Assert.Throws<DispatchException>(() => PlanFile.Read(_fs, path, Config));
        Assert.Equal(ErrorCodes.PlanInvalid, error.ErrorCode);
        return error;
    }

    [Theory]
    [MemberData(nameof(NotText))]
    public void Invalid_utf8_is_refused_naming_the_file_and_line(string where, string template)
    {
        byte[] bytes = [.. template.Replace("ENTRY", Entry, StringComparison.Ordinal).Split("{0}").SelectMany((part, i) =>
            i == 0 ? Encoding.UTF8.GetBytes(part) : [0xFF, .. Encoding.UTF8.GetBytes(part)])];
        _fs.AddFile("/lab/plans/p.json", new MockFileData([.. "\n"u8, .. bytes]));

        DispatchException error = Refused("/lab/plans/p.json");

        Assert.Contains("/lab/plans/p.json is not UTF-8 text", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Contains("(line 2)", StringComparison.Ordinal), $"{where}: {error.Message}");
    }

    [Theory]
    [InlineData("""{ "name": "\ud800", "entries": [ ENTRY ] }""")]
    [InlineData("""{ "entries": [ { "name": "x\udc00", "test_dir": "../tests/boot", "machine": "rig-1" } ] }""")]
    public void A_lone_surrogate_escape_is_refused(string json)
    {
        _fs.AddFile("/lab/plans/p.json", new MockFileData(json.Replace("ENTRY", Entry, StringComparison.Ordinal)));

        Assert.Contains("holds a string that is not text", Refused("/lab/plans/p.json").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void An_empty_path_is_refused(string path) =>
        Assert.Contains("path is empty", Refused(path).Message, StringComparison.Ordinal);

    [Fact]
    public void A_directory_is_refused_saying_it_is_a_directory()
    {
        _fs.AddDirectory("/lab/plans/dir.json");

        Assert.Contains("/lab/plans/dir.json is a directory", Refused("/lab/plans/dir.json").Message, StringComparison.Ordinal);
    }
}
