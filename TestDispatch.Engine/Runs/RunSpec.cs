namespace TestDispatch.Engine.Runs;

/// <summary>How to execute a run: the test's entry command (an argument list, never a shell string) and its time limit.</summary>
public sealed record RunSpec(IReadOnlyList<string> Command, TimeSpan Timeout);
