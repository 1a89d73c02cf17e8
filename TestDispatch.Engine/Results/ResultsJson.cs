using System.Text.Json.Serialization;

namespace TestDispatch.Engine.Results;

/// <summary>Serialization of test results: snake_case names, one line per case in <see cref="ResultsFile"/>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(TestCase))]
[JsonSerializable(typeof(TestCounts))]
[JsonSerializable(typeof(CaseIndexEntry))]
[JsonSerializable(typeof(CaseOutcome))]
public sealed partial class ResultsJson : JsonSerializerContext;
