namespace TestDispatch.Engine.Logs;

/// <summary>
/// A run's log (<see cref="Run"/>, side B) against another's (<see cref="Base"/>, side A: the last pass, or the run asked
/// for): the JSON of <c>diff --json</c> (<see cref="LogJson"/>), both runs as the run contract gives them.
/// </summary>
public sealed record RunDiff(Runs.Run Base, Runs.Run Run, LogDiffResult Diff);
