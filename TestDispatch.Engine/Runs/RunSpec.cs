using System.Text.Json.Serialization;
using TestDispatch.Engine.Configuration;

namespace TestDispatch.Engine.Runs;

/// <summary>
/// How to execute a run: the test's entry command (an argument list, never a shell string), its time limit, and the rest of
/// the configuration it was dispatched under (<see cref="Settings"/>; null for a run recorded before runs carried it: the
/// agent's configuration then applies).
/// </summary>
public sealed record RunSpec(IReadOnlyList<string> Command, TimeSpan Timeout)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RunSettings? Settings { get; init; }
}
