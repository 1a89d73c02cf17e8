using System.Text.Json.Serialization;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Batches;

/// <summary>
/// What a batch's progress needs of a plan entry's latest run: its id, where it ran and how it ended. An open batch
/// keeps this per entry instead of the run itself, so the run can go to history as soon as it ends (a batch of 20,000
/// entries then holds 20,000 of these, not 20,000 run records, in every process that looks at it).
/// </summary>
public sealed record LatestTry(string Id, long Seq, string Machine, RunStatus Status, int? ExitCode, string ErrorCode,
    [property: JsonConverter(typeof(UtcTimestampConverter))] DateTimeOffset? EndedAt)
{
    public static LatestTry Of(RunRecord run) =>
        new(run.Id, run.Seq, run.Run.Machine, run.Run.Status, run.Run.ExitCode, run.Run.ErrorCode, run.Run.EndedAt);
}

/// <summary>
/// Tries of a plan entry (index <see cref="Entry"/> in the plan) made by runs the hot state no longer holds, and the
/// latest of all its runs: what snapshot.json keeps of a hot batch's runs that went to history.
/// </summary>
public sealed record EntryTries(int Entry, int Tries, LatestTry Last);

/// <summary>The <see cref="EntryTries"/> of one hot batch, by its id.</summary>
public sealed record BatchTries(string Batch, IReadOnlyList<EntryTries> Entries);
