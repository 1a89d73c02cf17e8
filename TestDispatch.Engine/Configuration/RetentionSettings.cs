namespace TestDispatch.Engine.Configuration;

/// <summary>
/// The optional <c>Retention</c> section: when set, the agent prunes by itself while idle (at most once an hour) the
/// runs that ended longer ago than <see cref="OlderThan"/>, as <c>testdispatch prune</c> would.
/// </summary>
public sealed record RetentionSettings(TimeSpan OlderThan, bool KeepFailed = false);
