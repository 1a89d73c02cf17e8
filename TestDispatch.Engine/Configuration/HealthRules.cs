namespace TestDispatch.Engine.Configuration;

/// <summary>
/// When health takes a machine out of service (configuration <c>TestDispatch:Health</c>): after
/// <see cref="InfraFailuresInARow"/> infrastructure failures in a row, but never so that more than
/// <see cref="MaxHeldShare"/> of the machines matching any one tag (or of the whole fleet) are held by it; a held
/// machine with a <c>HealthCheck</c> runs it again after <see cref="CheckAfter"/>.
/// </summary>
public sealed record HealthRules
{
    public int InfraFailuresInARow { get; init; } = 3;

    public double MaxHeldShare { get; init; } = 0.5;

    public TimeSpan CheckAfter { get; init; } = TimeSpan.FromMinutes(10);
}
