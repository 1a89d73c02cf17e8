namespace TestDispatch.Engine.Configuration;

/// <summary>
/// What of the configuration governs a run once it is dispatched, besides its command and time limit: recorded with the
/// run by the command that dispatched it (or submitted its batch), so the agent follows every run by the configuration
/// it was dispatched under, whatever configuration the agent itself was started with. <see cref="From"/> says which
/// files and environment variables that configuration was read from.
/// </summary>
public sealed record RunSettings(TimeSpan KillGrace, TimeSpan UnreachableGrace, long LogLimit, string From);
