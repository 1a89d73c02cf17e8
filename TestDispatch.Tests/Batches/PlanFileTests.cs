using System.IO.Abstractions.TestingHelpers;
using System.Text;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tests.Batches;

/// <summary>Plan files on a fake disk: how entries resolve, and every mistake reported at once naming the entry and field.</summary>
[Trait("Category", "Unit")]
public class PlanFileTests
{
    private static readonly LabConfig Config = new("/state", new RunDefaults(["./run.sh"], TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(2)),
    [
        new Machine { Name = "rig-1", Transport = TransportKind.Local, Tags = ["x86"] },
        new Machine { Name = "rig-2", Transport = TransportKind.Local, Tags = ["x86", "gpu"] },
    ]);

    private readonly MockFileSystem _fs = new(new Dictionary<string, MockFileData>
    {
        ["/lab/tests/boot/run.sh"] = new("echo boot"),
        ["/lab/tests/gpu/run.sh"] = new("echo gpu"),
        ["/lab/tests/gpu/testdispatch.json"] = new("""{ "command": ["make", "gpu"], "timeout": "10m" }"""),
    });

    private (string Name, IReadOnlyList<BatchEntry> Entries) Read(string json, string path = "/lab/plans/nightly.json")
    {
        _fs.AddFile(path, new MockFileData(json));
        (string name, IReadOnlyList<BatchEntry> entries, _) = PlanFile.Read(_fs, path, Config);
        return (name, entries);
    }

    [Fact]
    public void Entries_of_one_test_dir_share_its_path_hash_tags_and_spec_and_the_dir_is_hashed_once()
    {
        (_, IReadOnlyList<BatchEntry> entries) = Read("""
            { "entries": [
                { "name": "a", "test_dir": "../tests/gpu", "tags": ["gpu"] },
                { "name": "b", "test_dir": "/lab/tests/gpu/", "tags": ["gpu"] },
                { "name": "c", "test_dir": "../tests/gpu", "tags": ["gpu"] },
                { "name": "d", "test_dir": "../tests/boot", "machine": "rig-1" } ] }
            """);

        Assert.All(entries.Take(3), e => Assert.Same(entries[0].TestDir, e.TestDir));
        Assert.All(entries.Take(3), e => Assert.Same(entries[0].TestDirHash, e.TestDirHash));
        Assert.All(entries.Take(3), e => Assert.Same(entries[0].Tags, e.Tags));
        Assert.All(entries.Take(3), e => Assert.Same(entries[0].Spec, e.Spec));
        Assert.Equal(["make", "gpu"], entries[2].Spec.Command); // from the manifest, read once for all three
        Assert.NotEqual(entries[0].TestDirHash, entries[3].TestDirHash);
        Assert.Equal(["./run.sh"], entries[3].Spec.Command);
    }

    private DispatchException Refused(string json)
    {
        var error = Assert.Throws<DispatchException>(() => Read(json));
        Assert.Equal(ErrorCodes.PlanInvalid, error.ErrorCode);
        return error;
    }

    [Fact]
    public void Entries_resolve_test_dirs_from_the_plan_folder_and_take_command_and_limit_from_entry_then_manifest_then_defaults()
    {
        (string name, IReadOnlyList<BatchEntry> entries) = Read("""
            { "entries": [
                { "test_dir": "../tests/boot", "machine": "rig-1" },
                { "name": "gpu-fast", "test_dir": "/lab/tests/gpu", "tags": ["gpu"], "command": ["./run.sh", "--fast"], "retries": 2 },
                { "name": "gpu-manifest", "test_dir": "../tests/gpu/", "tags": ["x86", "gpu"], "timeout": "90s" },
              ] // trailing commas and comments are fine
            }
            """);

        Assert.Equal("nightly", name); // the file name, when the plan has none
        Assert.Equal(["boot", "gpu-fast", "gpu-manifest"], entries.Select(e => e.Name));
        Assert.Equal(["/lab/tests/boot", "/lab/tests/gpu", "/lab/tests/gpu"], entries.Select(e => e.TestDir));
        Assert.Equal(("rig-1", 0), (entries[0].Machine, entries[0].Tags.Count));
        Assert.Equal(["./run.sh"], entries[0].Spec.Command);
        Assert.Equal(TimeSpan.FromMinutes(30), entries[0].Spec.Timeout);
        Assert.Equal(["./run.sh", "--fast"], entries[1].Spec.Command);
        Assert.Equal((TimeSpan.FromMinutes(10), 2), (entries[1].Spec.Timeout, entries[1].Retries));
        Assert.Equal(["make", "gpu"], entries[2].Spec.Command);
        Assert.Equal(TimeSpan.FromSeconds(90), entries[2].Spec.Timeout);
        Assert.Equal(TestDirHasher.Compute(_fs, "/lab/tests/gpu"), entries[1].TestDirHash);
        Assert.NotEqual(entries[0].TestDirHash, entries[1].TestDirHash);
    }

    [Fact]
    public void Every_problem_is_reported_at_once_naming_the_entry_and_the_field()
    {
        DispatchException error = Refused("""
            { "name": "", "entries": [
                { "test_dir": "../tests/nowhere", "machine": "rig-9" },
                { "name": "a", "test_dir": "../tests/boot", "tags": ["arm"], "command": "./run.sh --fast", "retries": 11, "colour": "red" },
                { "name": "b", "test_dir": "../tests/boot", "machine": "rig-1", "tags": ["x86"] },
                { "name": "c", "test_dir": "../tests/boot", "timeout": "soon" },
                { "name": "d", "machine": "rig-1" }
            ] }
            """);

        string[] expected =
        [
            "/lab/plans/nightly.json has 11 problems; nothing was submitted",
            "name: must be a non-empty string",
            "entries[0]: test_dir '../tests/nowhere' does not exist (resolved to /lab/tests/nowhere)",
            "entries[0]: machine 'rig-9' is not configured; configured machines: rig-1, rig-2",
            "entries[1] ('a'): unknown field 'colour'",
            "entries[1] ('a'): no configured machine that can run tests has all of the tags arm",
            "entries[1] ('a'): command must be a list of arguments",
            "entries[1] ('a'): retries 11 must be a whole number from 0 to 10",
            "entries[2] ('b'): give either machine or tags, not both",
            "entries[3] ('c'): no target; add \"machine\"",
            "entries[3] ('c'): timeout 'soon' is not a duration",
            "entries[4] ('d'): test_dir is missing",
        ];
        foreach (string part in expected)
        {
            Assert.Contains(part, error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>A generated plan with one mistake in each of its 2,000 entries printed 2,000 lines; the first 20 are listed, then what the rest are.</summary>
    [Fact]
    public void A_plan_with_one_mistake_in_every_entry_lists_the_first_twenty_and_says_what_the_rest_are()
    {
        DispatchException error = Refused($$"""
            { "entries": [ {{string.Join(", ", Enumerable.Range(0, 2000).Select(i => $$"""{ "name": "e{{i}}", "test_dir": "../tests/boot", "tags": [] }"""))}} ] }
            """);

        string[] lines = error.Message.Split(Environment.NewLine);
        Assert.Equal(1 + 20 + 1, lines.Length);
        Assert.Contains("has 2000 problems; nothing was submitted", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("  - entries[19] ('e19'): tags must be", lines[20], StringComparison.Ordinal);
        Assert.StartsWith("  - and 1980 more; all of them: tags must be", lines[21], StringComparison.Ordinal);
    }

    [Fact]
    public void Two_entries_with_one_name_are_refused_naming_both()
    {
        DispatchException error = Refused("""
            { "entries": [ { "test_dir": "../tests/boot", "machine": "rig-1" }, { "test_dir": "/lab/tests/boot/", "machine": "rig-2" } ] }
            """);

        Assert.Contains("entries[1]: name 'boot' is already the name of entries[0]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_duplicate_name_is_reported_among_many_mistakes_even_when_the_entries_have_others()
    {
        DispatchException error = Refused("""
            { "entries": [
                { "name": "boot", "test_dir": "../tests/boot", "machine": "rig-9" },
                { "test_dir": "../tests/nowhere", "machine": "rig-1" },
                { "test_dir": "../tests/boot", "machine": "rig-1", "retries": 99 },
                { "name": "gpu", "test_dir": "../tests/gpu", "tags": ["x86", " "] }
            ] }
            """);

        Assert.Contains("entries[2]: name 'boot' is already the name of entries[0]", error.Message, StringComparison.Ordinal);
        Assert.Contains("entries[0] ('boot'): machine 'rig-9' is not configured", error.Message, StringComparison.Ordinal);
        Assert.Contains("entries[2]: retries 99", error.Message, StringComparison.Ordinal);
        Assert.Contains("entries[3] ('gpu'): tags [\"x86\", \" \"] has a blank tag", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "entries": [ """, "not valid JSON at line 1")]
    [InlineData("""[ { "test_dir": "x" } ]""", "must be a JSON object")]
    [InlineData("""{ "entries": [] }""", "entries: must be a non-empty list")]
    [InlineData("""{ "entries": [ "boot" ] }""", "entries[0]: must be an object")]
    [InlineData("""{ "entries": [ { "test_dir": "../tests/boot", "machine": "rig-1" } ], "owner": "me" }""", "the plan: unknown field 'owner'")]
    [InlineData("""{ "entries": [ { "test_dir": "../tests/boot", "machine": "rig-1" } ] } { }""", "not valid JSON at line 1")]
    [InlineData("""{ "entries": [ { "test_dir": "../tests/boot", "machine": "rig-1" } ], "entries": [] }""", "entries: given twice")]
    [InlineData("""{ "entries": { "test_dir": "../tests/boot" } }""", "entries: must be a non-empty list")]
    [InlineData("""{ "name": "" }""", "entries: must be a non-empty list")]
    [InlineData("""{ "name": 7, "entries": [ { "test_dir": "../tests/boot", "machine": "rig-1" } ] }""", "name: must be a non-empty string")]
    [InlineData("", "not valid JSON")]
    [InlineData("7 8", "not valid JSON at line 1")]
    public void A_malformed_plan_is_refused_saying_what_is_wrong(string json, string expected) =>
        Assert.Contains(expected, Refused(json).Message, StringComparison.Ordinal);

    [Fact]
    public void A_syntax_error_deep_in_a_long_plan_names_its_line_and_outranks_the_problems_before_it()
    {
        string entries = string.Join(",\n", Enumerable.Range(0, 500).Select(i => $$"""{ "name": "t{{i}}", "test_dir": "../tests/boot", "machine": "nowhere" }"""));

        DispatchException error = Refused($"{{ \"entries\": [\n{entries},\n{{ \"name\": \"broken\" \"test_dir\": \"x\" }} ] }}");

        Assert.Contains("not valid JSON at line 502", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("nowhere", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plan_of_many_entries_reads_each_in_order_with_comments_and_trailing_commas()
    {
        string entries = string.Join(",\n", Enumerable.Range(0, 3000).Select(i => $$"""// entry {{i}}{{"\n"}}{ "name": "t{{i}}", "test_dir": "../tests/boot", "tags": ["x86"], }"""));

        (string name, IReadOnlyList<BatchEntry> read) = Read($"/* nightly */ {{ \"entries\": [\n{entries},\n], \"name\": \"big\", }} // end");

        Assert.Equal("big", name);
        Assert.Equal(Enumerable.Range(0, 3000).Select(i => $"t{i}"), read.Select(e => e.Name));
        Assert.All(read, e => Assert.Same(read[0].Spec, e.Spec));
    }

    [Fact]
    public void A_plan_saved_with_a_byte_order_mark_reads_as_without()
    {
        _fs.AddFile("/lab/plans/bom.json", new MockFileData([0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(
            """{ "name": "bom", "entries": [ { "test_dir": "../tests/boot", "machine": "rig-1" } ] }""")]));

        (string name, IReadOnlyList<BatchEntry> entries, _) = PlanFile.Read(_fs, "/lab/plans/bom.json", Config);

        Assert.Equal("bom", name);
        Assert.Equal("boot", Assert.Single(entries).Name);
    }

    [Theory]
    [InlineData("", false)]
    [InlineData(""" "order": "longest", """, false)]
    [InlineData(""" "order": "plan", """, true)]
    public void A_plan_may_ask_for_its_entries_in_plan_order(string order, bool inPlanOrder)
    {
        _fs.AddFile("/lab/plans/o.json", new MockFileData($$"""{ {{order}} "entries": [ {{Entry}} ] }"""));

        Assert.Equal(inPlanOrder, PlanFile.Read(_fs, "/lab/plans/o.json", Config).InPlanOrder);
    }

    [Fact]
    public void An_order_that_is_neither_longest_nor_plan_is_refused_saying_both()
    {
        _fs.AddFile("/lab/plans/o.json", new MockFileData($$"""{ "order": "random", "entries": [ {{Entry}} ] }"""));

        DispatchException error = RefusedAt("/lab/plans/o.json");

        Assert.Contains("order: must be \"longest\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("or \"plan\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_plan_file_is_refused_naming_it()
    {
        var error = Assert.Throws<DispatchException>(() => PlanFile.Read(_fs, "/lab/plans/none.json", Config));

        Assert.Equal(ErrorCodes.PlanInvalid, error.ErrorCode);
        Assert.Contains("/lab/plans/none.json does not exist", error.Message, StringComparison.Ordinal);
    }

    // Bytes that are not text, an empty path or a directory: a bad plan (plan_invalid naming the file), not an internal error.

    private const string Entry = """{ "name": "boot", "test_dir": "../tests/boot", "machine": "rig-1" }""";

    public static TheoryData<string, string> NotText => new()
    {
        // {0} becomes the byte 0xFF, which is never UTF-8
        { "name", """{ "name": "a{0}b", "entries": [ ENTRY ] }""" },
        { "top-level key", """{ "{0}": 1, "entries": [ ENTRY ] }""" },
        { "entry string", """{ "entries": [ { "name": "b{0}", "test_dir": "../tests/boot", "machine": "rig-1" } ] }""" },
        { "entry key", """{ "entries": [ { "n{0}": "b", "test_dir": "../tests/boot", "machine": "rig-1" } ] }""" },
    };

    private DispatchException RefusedAt(string path)
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

        DispatchException error = RefusedAt("/lab/plans/p.json");

        Assert.Contains("/lab/plans/p.json is not UTF-8 text", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Contains("(line 2)", StringComparison.Ordinal), $"{where}: {error.Message}");
    }

    [Theory]
    [InlineData("""{ "name": "\ud800", "entries": [ ENTRY ] }""")]
    [InlineData("""{ "entries": [ { "name": "x\udc00", "test_dir": "../tests/boot", "machine": "rig-1" } ] }""")]
    public void A_lone_surrogate_escape_is_refused(string json)
    {
        _fs.AddFile("/lab/plans/p.json", new MockFileData(json.Replace("ENTRY", Entry, StringComparison.Ordinal)));

        Assert.Contains("holds a string that is not text", RefusedAt("/lab/plans/p.json").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void An_empty_path_is_refused(string path) =>
        Assert.Contains("path is empty", RefusedAt(path).Message, StringComparison.Ordinal);

    [Fact]
    public void A_directory_is_refused_saying_it_is_a_directory()
    {
        _fs.AddDirectory("/lab/plans/dir.json");

        Assert.Contains("/lab/plans/dir.json is a directory", RefusedAt("/lab/plans/dir.json").Message, StringComparison.Ordinal);
    }
}
