using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Commands;

/// <summary>
/// Words meant for the test come only after '--' (or from --command). Any other unknown option, on any command, exits 2
/// naming it and the closest real option, and stores nothing: before, 'run DIR -m M --queue' ran "--queue" as the test.
/// </summary>
[Trait("Category", "Integration")]
public sealed class UnknownOptionsTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("--retry", null)]
    [InlineData("--wiat", "--wait")]
    [InlineData("--folow", "--follow")]
    [InlineData("--mahcine", "--machine")]
    public async Task An_unknown_option_of_run_is_refused_naming_the_closest_and_nothing_is_dispatched(string typo, string? near)
    {
        string test = _cli.MakeTest("pass", "exit 0");

        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-1", typo, "--json");

        Assert.Equal((ExitCodes.BadInput, ""), (exit, output));
        Assert.StartsWith($"testdispatch: bad_input: unknown option '{typo}' for 'run'", error, StringComparison.Ordinal);
        Assert.Contains(near is null ? $"for 'run'; nothing was done" : $"for 'run'; did you mean '{near}'?", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_cli.StateDir), "the state dir was touched");
    }

    [Fact]
    public async Task A_word_for_the_test_before_the_double_dash_is_refused_and_nothing_is_dispatched()
    {
        string test = _cli.MakeTest("pass", "exit 0");

        (int exit, _, string error) = await _cli.Run("run", test, "--machine", "local-1", "./run.sh", "--fast");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("unknown option '--fast' for 'run'", error, StringComparison.Ordinal);
        (exit, _, error) = await _cli.Run("run", test, "--machine", "local-1", "./run.sh");
        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("unexpected word './run.sh' for 'run': words for the test go after '--'", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_cli.StateDir), "the state dir was touched");
    }

    [Fact]
    public async Task Words_after_the_double_dash_reach_the_test_even_when_they_look_like_options()
    {
        string test = _cli.MakeTest("args", "exit 0");

        (int exit, string id, string error) = await _cli.Run("run", test, "--machine", "local-1", "--command", "./run.sh", "--", "--queue", "--wiat");

        Assert.True(exit == 0, error);
        Assert.Equal(["./run.sh", "--queue", "--wiat"], _cli.OpenLab(startsAgents: false).Store.Find(id.Trim()).Spec.Command);
    }

    [Theory]
    [InlineData("--stauts", "--status", "runs", "--stauts", "failed")]
    [InlineData("--folow", "--follow", "logs", "0123", "--folow")]
    [InlineData("--jsno", "--json", "show", "--jsno", "0123")]
    [InlineData("--jsn", "--json", "cancel", "0123", "--jsn")]
    [InlineData("--jsn", "--json", "machines", "--jsn")]
    [InlineData("--wiat", "--wait", "batch", "submit", "plan.json", "--wiat")]
    [InlineData("--faild", "--failed", "batch", "rerun", "0123", "--faild")]
    [InlineData("--repari", "--repair", "doctor", "--repari")]
    [InlineData("--backgroud", "--background", "agent", "--backgroud")]
    [InlineData("--state-dri", "--state-dir", "runs", "--state-dri", "/tmp")]
    public async Task Every_command_refuses_an_unknown_option_naming_the_closest_real_one(string typo, string near, params string[] args)
    {
        (int exit, string output, string error) = await _cli.Run(args);

        Assert.Equal((ExitCodes.BadInput, ""), (exit, output));
        Assert.Contains($"unknown option '{typo}'", error, StringComparison.Ordinal);
        Assert.Contains($"did you mean '{near}'?", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_cli.StateDir), "the state dir was touched");
    }

    [Theory]
    [InlineData("--limit", "runs", "--limit", "x")]
    [InlineData("--limit", "runs", "--limit", "99999999999")]
    [InlineData("--tail", "logs", "0123", "-n", "x")]
    public async Task A_number_option_given_no_number_is_a_usage_error_not_a_stack_trace(string option, params string[] args)
    {
        (int exit, string output, string error) = await _cli.Run(args);

        Assert.Equal((ExitCodes.BadInput, ""), (exit, output));
        Assert.Contains($"testdispatch: bad_input: option '{option}' takes a whole number", error, StringComparison.Ordinal);
        CliHarness.AssertNoStackTrace(error);
        Assert.False(Directory.Exists(_cli.StateDir), "the state dir was touched");
    }

    [Theory]
    [InlineData("--wiat", "--wait")]
    [InlineData("--mach", "--machine")]
    [InlineData("-W", "-w")]
    [InlineData("--retry", null)]
    [InlineData("--x", null)]
    public void The_closest_option_is_a_near_typo_or_one_the_word_starts(string word, string? closest) =>
        Assert.Equal(closest, UnknownWords.Closest(word, ["--wait", "-w", "--machine", "-m", "--follow", "-f", "--json", "--timeout", "--command"]));
}
