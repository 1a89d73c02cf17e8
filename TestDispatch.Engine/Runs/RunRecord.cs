using System.Text.Json.Serialization;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Engine.Runs;

/// <summary>
/// What the store keeps per run: the public <see cref="Runs.Run"/> plus the private facts the agent
/// needs (spec, process, cancel request) and the creation order. Only <see cref="Run"/> is contract.
/// </summary>
public sealed record RunRecord
{
    public required Run Run { get; init; }
    public required RunSpec Spec { get; init; }

    /// <summary>Creation order in this state dir; larger is newer.</summary>
    public required long Seq { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public RunProcess? Process { get; init; }

    /// <summary>
    /// The machine as configured when the run was made: the agent runs it there even if its own configuration is older,
    /// newer, or from another --config file. Kept while the run is active.
    /// </summary>
    public Configuration.Machine? Target { get; init; }
    public DateTimeOffset? CancelRequestedAt { get; init; }

    /// <summary>Processes of the run that were still alive after SIGKILL (in uninterruptible sleep): kept for doctor.</summary>
    public IReadOnlyList<int>? Leftovers { get; init; }

    [JsonIgnore]
    public string Id => Run.Id;
}
