using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Diagnostics;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.Logs;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine;

/// <summary>The front door's reading side for screens and listings, logs, retention, doctor, and the agent's own process.</summary>
public sealed partial class Lab
{
    /// <summary>Catches up with what other processes wrote; returns a version that grows with every change seen.</summary>
    public long Refresh() => _store.Refresh();

    /// <summary>Runs matching <paramref name="filter"/>, newest first, read from history as the caller goes (bounded memory).</summary>
    public IEnumerable<Run> StreamRuns(RunFilter filter) => _store.Stream(filter).Select(r => r.Run);

    /// <summary>
    /// For a screen that patches itself: the runs matching <paramref name="filter"/> (newest first) and the cursor they are as
    /// of, to ask <see cref="RunChangesSince"/> for what changed next.
    /// </summary>
    public (IReadOnlyList<RunRecord> Runs, long BatchChanges, long Cursor) RunsWithCursor(RunFilter filter) => _store.ListWithCursor(filter);

    /// <summary>The runs changed since <paramref name="cursor"/>, or null Runs when the cursor is too old to answer (list again).</summary>
    public (IReadOnlyList<RunRecord>? Runs, long BatchChanges, long Cursor) RunChangesSince(long cursor) => _store.ChangesSince(cursor);

    /// <summary>The newest batches (at most <paramref name="limit"/>), with their progress.</summary>
    public IReadOnlyList<Batch> Batches(int? limit) => _store.Batches(limit: limit);

    /// <summary>The whole id of the batch with this id or unique prefix.</summary>
    public string FindBatchId(string idOrPrefix) => _store.FindBatch(idOrPrefix).Record.Id;

    /// <summary>A run's log for paging through (like less): only what is looked at is read.</summary>
    public LogPager OpenLog(string runId) => new(_fs, _store.Paths.Log(runId));

    /// <summary>Copies the run's whole log, or its last <paramref name="lastLines"/> lines, as it is now.</summary>
    public Task CopyLogAsync(Run run, Stream output, int? lastLines = null, CancellationToken cancellationToken = default) =>
        Logs().CopyAsync(run, output, lastLines, cancellationToken);

    /// <summary>Where the last <paramref name="lines"/> lines of the run's log start (0 when there is no log yet).</summary>
    public long LogOffsetOfLastLines(Run run, int lines) => Logs().OffsetOfLastLines(run, lines);

    private LogFollower Logs() => new(_fs, id => _store.Get(id).Run);

    /// <summary>
    /// Removes the runs that ended longer ago than <paramref name="olderThan"/> (records, logs, artifacts), never one still
    /// going nor one of a batch still open; with <paramref name="dryRun"/>, only says what would go.
    /// </summary>
    public PruneReport Prune(TimeSpan olderThan, bool keepFailed, bool dryRun = false) => _store.Prune(olderThan, keepFailed, dryRun);

    /// <summary>Checks (and with <paramref name="repair"/>, mends) everything <c>doctor</c> looks at; each finding is told as made. True when nothing failed.</summary>
    public Task<bool> DoctorAsync(bool repair, Action<Finding> report, CancellationToken cancellationToken = default) =>
        Doctor.RunAsync(_store, Fleet, _config, _fs, _locks, repair, report, cancellationToken);

    /// <summary>
    /// Makes the configured state dir, which other users may write to (no lab can open it), 0700 again if this user owns it;
    /// false when another user does (that takes its owner, or root's chown).
    /// </summary>
    public static bool MakeStateDirPrivate(LabConfig config) => Doctor.MakePrivate(config.StateDir);

    /// <summary>
    /// Runs this process as the lab's agent until it idles out or is stopped (SIGTERM, Ctrl+C); its runs go on either way.
    /// A <paramref name="successor"/> takes over from an agent whose keeper died: it waits for that one to let go.
    /// </summary>
    public Task<int> RunAgentAsync(bool background, bool successor = false, CancellationToken cancellationToken = default) =>
        AgentHost.RunAsync(_store, Fleet, _config, _fs, _locks, Clock, _launcher, background, successor, cancellationToken);
}
