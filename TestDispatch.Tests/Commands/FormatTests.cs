using TestDispatch.Tui.Text;

namespace TestDispatch.Tests.Commands;

public sealed class FormatTests
{
    private static readonly DateTimeOffset Now = new DateTimeOffset(2026, 11, 26, 15, 0, 0, TimeSpan.Zero).ToLocalTime();

    [Fact]
    public void A_list_time_is_the_clock_today_month_and_day_this_year_and_the_date_before()
    {
        DateTimeOffset today = Now.AddHours(-1);
        DateTimeOffset lastMonth = Now.AddDays(-31);
        DateTimeOffset lastYear = Now.AddYears(-1);

        Assert.Equal(today.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), Format.When(today, Now));
        Assert.Matches(@"^Oct \d\d \d\d:\d\d$", Format.When(lastMonth, Now));
        Assert.Matches(@"^2025-11-2\d$", Format.When(lastYear, Now));
        Assert.Equal("-", Format.When(null, Now));
    }

    [Fact]
    public void An_age_counts_seconds_minutes_hours_then_days()
    {
        Assert.Equal("5s", Format.Age(Now.AddSeconds(-5), Now));
        Assert.Equal("3m", Format.Age(Now.AddMinutes(-3), Now));
        Assert.Equal("47h", Format.Age(Now.AddHours(-47), Now));
        Assert.Equal("4d", Format.Age(Now.AddDays(-4), Now));
    }
}
