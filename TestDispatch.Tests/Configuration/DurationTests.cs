using TestDispatch.Engine.Configuration;

namespace TestDispatch.Tests.Configuration;

[Trait("Category", "Unit")]
public class DurationTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData("2h", 7200)]
    [InlineData("1.5m", 90)]
    [InlineData("500ms", 0.5)]
    [InlineData("00:10:00", 600)]
    [InlineData("1:00:00", 3600)]
    [InlineData("1d", 86400)]
    public void Parses_clock_and_unit_forms(string text, double seconds)
    {
        Assert.True(Duration.TryParse(text, out TimeSpan value));
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("90")]
    [InlineData("ten minutes")]
    [InlineData("5x")]
    [InlineData("1e400s")]
    [InlineData("12:99:00")]
    public void Refuses_what_is_not_a_duration(string text) => Assert.False(Duration.TryParse(text, out _));
}
