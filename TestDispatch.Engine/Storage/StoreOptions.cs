namespace TestDispatch.Engine.Storage;

/// <summary>Tuning for <see cref="RunStore"/>; the defaults suit a lab controller.</summary>
public sealed record StoreOptions
{
    /// <summary>How long to wait for another process's state lock before giving up.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fold the journal into the snapshot after this many lines, keeping the journal (and cold loads) bounded.</summary>
    public int CompactAfterLines { get; init; } = 5_000;

    /// <summary>
    /// Fold the journal into the snapshot also once it holds this many bytes and as many as the snapshot: every command
    /// reads both, so the journal never outweighs the snapshot, and writing the snapshot again costs no more than the
    /// journal it folds.
    /// </summary>
    public long CompactAfterBytes { get; init; } = 256 * 1024;

    /// <summary>
    /// When a batch is over and the hot state (snapshot, journal, hot batches' entries) holds more bytes than this, the
    /// batch, its ended runs and every other cold run go to history at once, however few: a finished batch of 20,000
    /// entries would otherwise stay in what every command reads until <see cref="SegmentRuns"/> cold runs gathered.
    /// </summary>
    public long HotBytes { get; init; } = 512 * 1024;

    /// <summary>How many of the newest runs stay in the hot state whatever their status (the first page of every listing).</summary>
    public int RecentRuns { get; init; } = 500;

    /// <summary>Cold runs (see <see cref="RunStore"/>) wait in the hot state until this many fill a history segment.</summary>
    public int SegmentRuns { get; init; } = 5_000;
}
