using System.Text.RegularExpressions;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Commands;

/// <summary>
/// Issue 31, items 6 and 7, through the real CLI: every error line of every command is <c>testdispatch: &lt;code&gt;: &lt;message&gt;</c>
/// naming what is wrong in a user's words (never a .NET type); a configuration file whose settings are not under
/// "TestDispatch" is refused, not silently ignored; and text output keeps one row per item whatever a name holds.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class ErrorContractTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [GeneratedRegex(@"^testdispatch: [a-z_]+: \S")]
    private static partial Regex CodedLine();

    private static void AssertEveryLineCoded(string error, string code)
    {
        string[] lines = error.TrimEnd().Split(Environment.NewLine);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(CodedLine(), l));
        Assert.All(lines, l => Assert.StartsWith($"testdispatch: {code}: ", l, StringComparison.Ordinal));
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
        CliHarness.AssertNoStackTrace(error);
    }

    [Theory]
    [InlineData("machines")]
    [InlineData("doctor")]
    public async Task A_config_file_without_the_TestDispatch_object_is_refused_naming_the_file_the_keys_and_the_wrap(string command)
    {
        File.WriteAllText(_cli.ConfigFile, """{ "Machines": [ { "Name": "rig-3", "Transport": "local" } ], "Defaults": { "Timeout": "bogus" } }""");

        (int exit, string output, string error) = await _cli.Run(command);

        Assert.Equal((ExitCodes.BadInput, ""), (exit, output));
        Assert.StartsWith($"testdispatch: {ErrorCodes.ConfigInvalid}: ", error, StringComparison.Ordinal);
        Assert.Contains($"config file {_cli.ConfigFile}: top-level keys 'Machines', 'Defaults' are not known", error, StringComparison.Ordinal);
        Assert.Contains("""wrap the file's content as { "TestDispatch": { "Machines": …, "Defaults": … } }""", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_file_cut_short_is_refused_naming_its_line_and_position()
    {
        File.WriteAllText(_cli.ConfigFile, "{ \"TestDispatch\": {\n  \"Machines\": [\n    { \"Name\": \"local-1\", \"Transport\": \"local\" }\n");

        (int exit, _, string error) = await _cli.Run("machines");

        Assert.Equal(ExitCodes.BadInput, exit);
        AssertEveryLineCoded(error, ErrorCodes.ConfigInvalid);
        Assert.Contains($"config file {_cli.ConfigFile} is not valid JSON at line 4, position 1", error, StringComparison.Ordinal);
        Assert.DoesNotContain("..", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_required_option_is_bad_input_naming_it_and_what_it_takes()
    {
        (int exit, _, string error) = await _cli.Run("prune");

        Assert.Equal(ExitCodes.BadInput, exit);
        AssertEveryLineCoded(error, ErrorCodes.BadInput);
        Assert.Contains("option '--older-than' is required for 'prune': give a duration, e.g. --older-than 90d", error, StringComparison.Ordinal);
        Assert.Contains("'testdispatch prune --help' shows the usage", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--limit", "runs", "--limit", "abc")]
    [InlineData("--limit", "runs", "--limit", "99999999999")]
    [InlineData("--tail", "logs", "0123", "--tail", "ten")]
    public async Task A_value_of_the_wrong_kind_is_bad_input_saying_what_the_option_takes_without_dotnet_types(string option, params string[] args)
    {
        (int exit, string output, string error) = await _cli.Run(args);

        Assert.Equal((ExitCodes.BadInput, ""), (exit, output));
        AssertEveryLineCoded(error, ErrorCodes.BadInput);
        Assert.Contains($"option '{option}' takes a whole number, e.g. {option} 50", error, StringComparison.Ordinal);
        Assert.Contains($"'{args[^1]}' is not one", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Nullable", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown command 'frobnicate' for 'testdispatch'", "frobnicate")]
    [InlineData("'show' needs ID (run id, or any unique prefix of it)", "show")]
    [InlineData("unknown command 'lsit' for 'batch'; did you mean 'list'?", "batch", "lsit")]
    [InlineData("unknown option '--wiat' for 'run'; did you mean '--wait'?", "run", "dir", "--machine", "local-1", "--wiat")]
    public async Task Every_parse_error_is_one_coded_line(string expected, params string[] args)
    {
        (int exit, _, string error) = await _cli.Run(args);

        Assert.Equal(ExitCodes.BadInput, exit);
        AssertEveryLineCoded(error, ErrorCodes.BadInput);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_newline_or_escape_in_a_name_never_breaks_a_row_nor_reaches_the_terminal()
    {
        Lab lab = _cli.OpenLab();
        using IDisposable agent = lab.Locks.TryAcquire(lab.Store.Paths.AgentLock)!; // nothing runs: the records are what is shown
        Run run = lab.Store.Prepare(Request(machine: "local-1", testDir: "/tests/two\nlines\u001b[2J")).Run;
        lab.Store.AddBatch("b", "/plans/b.json", [new BatchEntry
        {
            Name = "entry", TestDir = "/tests/two\nlines", TestDirHash = "h", Machine = "local-2", Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)),
        }]);
        Assert.Equal(0, (await _cli.Run("machine", "drain", "local-2", "--reason", "cable\nout\u001b]0;pwned\u0007")).Exit);

        (_, string runs, _) = await _cli.Run("runs");
        (_, string show, _) = await _cli.Run("show", run.Id);
        (_, string machines, _) = await _cli.Run("machines");
        (_, string batch, _) = await _cli.Run("batch", "show", lab.Batches().Single().Id);

        Assert.Equal(2, runs.TrimEnd().Split('\n').Length);
        Assert.Contains(@"/tests/two\nlines\x1b[2J", runs, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^test dir +/tests/two\\nlines\\x1b\[2J$", show);
        Assert.Equal(3, machines.TrimEnd().Split('\n').Length);
        Assert.Contains(@"cable\nout\x1b]0;pwned\x07", machines, StringComparison.Ordinal);
        Assert.Contains(@"/tests/two\nlines", batch, StringComparison.Ordinal);
        Assert.All(new[] { runs, show, machines, batch }, text => Assert.DoesNotContain('\u001b', text));
        Assert.Equal(13, show.TrimEnd().Split('\n').Length); // the header and twelve fields, one line each
    }
}
