namespace TestDispatch.Engine.Configuration;

/// <summary>
/// The optional <c>Results</c> section: a case that both passed and failed on the same test dir hash within
/// <see cref="FlakyWindow"/> (default 14 days, as Harness counts) up to a run's end is shown flaky in that run.
/// </summary>
public sealed record ResultsSettings(TimeSpan FlakyWindow)
{
    public static readonly TimeSpan DefaultFlakyWindow = TimeSpan.FromDays(14);
}
