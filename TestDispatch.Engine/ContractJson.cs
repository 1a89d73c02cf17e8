using System.Text.Json.Serialization;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine;

/// <summary>
/// Serialization of the public JSON contract (docs/DESIGN.md §3, §9): snake_case names, nulls written while a
/// value is unknown. What <c>--json</c> prints and scripts parse.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(Run))]
[JsonSerializable(typeof(IReadOnlyList<Run>))]
[JsonSerializable(typeof(MachineState))]
[JsonSerializable(typeof(IReadOnlyList<MachineState>))]
[JsonSerializable(typeof(IReadOnlyList<MachineHolder>))]
[JsonSerializable(typeof(Batch))]
[JsonSerializable(typeof(IReadOnlyList<Batch>))]
[JsonSerializable(typeof(RunTests))]
[JsonSerializable(typeof(IReadOnlyList<CaseRun>))]
public sealed partial class ContractJson : JsonSerializerContext;
