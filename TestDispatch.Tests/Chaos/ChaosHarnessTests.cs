using TestDispatch.Chaos;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Chaos;

/// <summary>
/// The chaos harness's CI run (docs/RELIABILITY.md): one seeded minute of storms over the real binary, with processes killed
/// and stopped and the disk filled at random, must break no invariant. Whatever a longer run finds gets its own named test.
/// </summary>
[Trait("Category", "Chaos")]
public sealed class ChaosHarnessTests
{
    [Fact]
    public async Task A_seeded_minute_of_storms_and_faults_breaks_no_invariant()
    {
        using TempDir dir = new("tdchaos-");
        ChaosOptions options = new(CliHarness.Program[0], dir.Combine("lab"), Seed: 20261207, Duration: TimeSpan.FromMinutes(1),
            StormLength: TimeSpan.FromSeconds(20), Clients: 3, Ssh: true, DiskFill: true);

        (Figures figures, string disk) = await ChaosHarness.RunAsync(options);

        StringWriter report = new();
        figures.Write(report, options.Seed, options.Duration, disk);
        // However slow the host, a storm acknowledges runs and injects faults: else there was nothing to judge.
        Assert.True(figures.RunsAcknowledged > 0 && figures.FaultsInjected > 0, $"the storm did too little to judge:{Environment.NewLine}{report}");
        Assert.True(figures.Violations.Count == 0, report.ToString());
        Assert.Equal(0, figures.RunsLost);
        Assert.Equal(0, figures.Orphans);
    }
}
