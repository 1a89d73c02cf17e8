using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Bench;

/// <summary>The naive design's one file: every run as a JSON array, same field names as the store.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(List<Run>))]
internal sealed partial class NaiveJson : JsonSerializerContext;
