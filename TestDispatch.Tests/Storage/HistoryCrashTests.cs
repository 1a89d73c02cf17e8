using System.IO.Abstractions;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// A process SIGKILLed at each step of moving runs into a history segment (CrashPoints) leaves a store that loads with
/// every run it acknowledged, each listed once, and whose next compaction finishes the move.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HistoryCrashTests
{
    private static readonly StoreOptions Options = new() { RecentRuns = 2, SegmentRuns = 3 };

    private static async Task<(int Exit, List<string> Acked, string Output)> RunFixture(string stateDir, int runs, string? crashAt)
    {
        IReadOnlyList<string> command = FixtureProgram.CommandLine("history", stateDir, $"{runs}");
        BufferedCommandResult result = await Cli.Wrap(command[0]).WithArguments(command.Skip(1))
            .WithEnvironmentVariables(e => e.Set("TESTDISPATCH_CRASH_AT", crashAt))
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync();
        List<string> acked = [.. result.StandardOutput.Split('\n').Where(l => l.StartsWith("ack ", StringComparison.Ordinal)).Select(l => l[4..])];
        return (result.ExitCode, acked, result.StandardOutput + result.StandardError);
    }

    [Theory]
    [InlineData("segment-written")]
    [InlineData("ids-written")]
    [InlineData("index-renamed")]
    [InlineData("snapshot-staged")]
    [InlineData("snapshot-renamed")]
    public async Task A_kill_at_each_step_of_writing_a_segment_loses_no_acknowledged_run(string step)
    {
        using TempDir state = new();
        (int firstExit, List<string> before, string firstOutput) = await RunFixture(state.Path, 8, crashAt: null);
        Assert.True(firstExit == 0, firstOutput);

        (int exit, List<string> acked, string output) = await RunFixture(state.Path, 8, crashAt: step);

        Assert.True(exit == 128 + 9, $"the fixture was not killed at {step} (exit {exit}): {output}");
        Assert.Equal(8, acked.Count);
        RunStore store = new(new FileSystem(), new FlockFileLocks(), state.Path, options: Options);
        List<string> listed = [.. store.List().Select(r => r.Id)];
        Assert.Equal(listed.Count, listed.Distinct().Count());
        Assert.Equal(before.Concat(acked).Order(), listed.Order());
        Assert.All(before.Concat(acked), id => Assert.Equal(RunStatus.Completed, store.Find(id).Run.Status));
        Assert.Null(store.CheckHistory());

        store.Compact();
        RunStore after = new(new FileSystem(), new FlockFileLocks(), state.Path, options: Options);
        Assert.Equal(before.Concat(acked).Order(), after.List().Select(r => r.Id).Order());
        Assert.Null(after.CheckHistory());
        Assert.Empty(Directory.GetFiles(Path.Combine(state.Path, "history"), "*.tmp"));
    }
}
