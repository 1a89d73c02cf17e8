using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// Without inotify (its default limit is 128 instances per user: about 130 parallel 'run --wait' reach it), waiters and
/// the agent poll instead, and nothing fails. The limit is lowered to 0 only inside a user namespace of the processes
/// under test, so neither this machine's limit nor any other test is touched.
/// </summary>
[Trait("Category", "Integration")]
public sealed class StoreWatcherTests : IDisposable
{
    private static readonly string[] NoInotify =
        ["unshare", "--user", "--map-root-user", "sh", "-c", "echo 0 > /proc/sys/user/max_inotify_instances && exec \"$@\"", "sh"];

    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task A_watcher_that_cannot_have_inotify_polls_and_says_why()
    {
        await SkipUnlessInotifyCanBeTakenAway();
        Directory.CreateDirectory(_cli.StateDir);

        string without = await Run([.. NoInotify, .. FixtureProgram.CommandLine("watch", _cli.StateDir)]);
        string with = await Run(FixtureProgram.CommandLine("watch", _cli.StateDir));

        Assert.StartsWith("polling: ", without, StringComparison.Ordinal);
        Assert.Contains("inotify", without, StringComparison.Ordinal);
        Assert.Equal("watching", with);
    }

    [SkippableFact]
    public async Task Run_wait_without_inotify_gets_its_verdict_from_an_agent_that_polls()
    {
        await SkipUnlessInotifyCanBeTakenAway();
        string test = _cli.MakeTest("pass", "echo hello\nexit 0");

        (int exit, string output, string error) = await _cli.Exec(["run", test, "--machine", "local-1", "--wait"], prefix: NoInotify);

        CliHarness.AssertNoStackTrace(error);
        Assert.True(exit == ExitCodes.Passed, $"exit {exit}: {error}");
        Assert.Matches("^[0-9a-f]{12}$", output.Trim());
        Run run = _cli.OpenLab(startsAgents: false).Show(output.Trim());
        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Contains("hello", File.ReadAllText(run.LogsPath), StringComparison.Ordinal);
    }

    private static async Task<string> Run(IReadOnlyList<string> command)
    {
        BufferedCommandResult result = await Cli.Wrap(command[0]).WithArguments(command.Skip(1)).WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync();
        Assert.True(result.ExitCode == 0, $"'{string.Join(' ', command)}' exited {result.ExitCode}: {result.StandardError}");
        return result.StandardOutput.Trim();
    }

    /// <summary>Skips, saying why, where this machine allows no user namespace (some containers forbid them).</summary>
    private static async Task SkipUnlessInotifyCanBeTakenAway()
    {
        BufferedCommandResult probe = await Cli.Wrap(NoInotify[0]).WithArguments([.. NoInotify[1..], "true"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        Skip.If(probe.ExitCode != 0, $"cannot lower the inotify limit in a user namespace here ({probe.StandardError.Trim()}); the test needs 'unshare --user'");
    }
}
