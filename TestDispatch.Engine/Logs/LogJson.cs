using System.Text.Json.Serialization;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// The JSON of <c>grep --json</c> (one <see cref="RunLogHit"/> a line, written unindented) and <c>diff --json</c>: snake_case names, enums as snake_case strings
/// (<c>"kind": "binary_file"</c>, <c>"outcome": "too_different"</c>), nulls written (a line number absent on one side).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(LogHit))]
[JsonSerializable(typeof(IReadOnlyList<LogHit>))]
[JsonSerializable(typeof(LogDiffResult))]
[JsonSerializable(typeof(RunLogHit))]
[JsonSerializable(typeof(RunDiff))]
public sealed partial class LogJson : JsonSerializerContext;
