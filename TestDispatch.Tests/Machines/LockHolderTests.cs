using TestDispatch.Engine.Machines;

namespace TestDispatch.Tests.Machines;

/// <summary>The holder record a run's wrapper writes into its machine's lock file: one line, read back by anyone, trusted by no one.</summary>
[Trait("Category", "Unit")]
public sealed class LockHolderTests
{
    [Fact]
    public void A_holder_record_is_one_line_that_reads_back_the_same_whatever_its_values_hold()
    {
        LockHolder holder = new()
        {
            User = "alice", Host = "ctl-1", StateDir = "/home/alice/.local/state/testdispatch", RunId = "7f3a",
            TestDir = "/tests/flash\nrig \"07\" $(x)", Since = new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero),
        };

        string line = holder.ToLine();

        Assert.DoesNotContain('\n', line);
        Assert.Equal(holder, LockHolder.Parse(line));
        Assert.Contains("\"state_dir\":", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("scribbled by a stranger")]
    [InlineData("{\"user\": 7")]
    public void A_record_that_does_not_read_is_an_unknown_holder_never_an_error(string? line)
    {
        LockHolder holder = LockHolder.Parse(line);

        Assert.Equal("", holder.User);
        Assert.Contains("cannot be read", holder.ToString(), StringComparison.Ordinal);
    }
}
