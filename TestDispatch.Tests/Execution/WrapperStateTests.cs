using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Tests.Execution;

/// <summary>Reading the wrapper's files while it writes them: a look never sees it done without what it wrote before done.</summary>
[Trait("Category", "Unit")]
public class WrapperStateTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void A_wrapper_that_ends_between_two_reads_is_never_seen_done_without_its_exit(int endsAtRead)
    {
        // The wrapper as it runs a tiny test: the test started; then, while the agent reads the files one by one, the
        // test ends and the wrapper commits exit and writes done.
        Dictionary<string, string> files = new() { ["wrapper"] = "100 5000\n", ["pgid"] = "101 5001 12.5\n" };
        int reads = 0;
        string? Read(string name)
        {
            if (++reads == endsAtRead)
            {
                files["exit"] = "0 12.6\n";
                files["done"] = "";
            }
            return files.GetValueOrDefault(name);
        }

        WrapperState state = WrapperState.FromFiles(Read, "boot", 12.7, wrapperAlive: false);

        Assert.False(state.Done && state.Exit is null, "seen done without its exit: the run would be called lost ('it was killed')");
    }

    [Fact]
    public void A_finished_wrapper_reads_as_done_with_its_exit_and_survivors()
    {
        Dictionary<string, string> files = new()
        {
            ["wrapper"] = "100 5000\n", ["pgid"] = "101 5001 12.5\n", ["exit"] = "3 12.6\n" + new string(' ', 40) + "\n", ["stopped"] = "202 203\n", ["done"] = "",
        };

        WrapperState state = WrapperState.FromFiles(files.GetValueOrDefault, "boot", 12.7, wrapperAlive: false);

        Assert.True(state.Done);
        Assert.Equal(3, state.Exit!.Status);
        Assert.Equal([202, 203], state.Survivors);
        Assert.Equal(101, state.Test!.ProcessGroupId);
    }
}
