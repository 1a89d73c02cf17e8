namespace TestDispatch.Engine.Storage;

/// <summary>Tuning for <see cref="RunStore"/>; the defaults suit a lab controller.</summary>
public sealed record StoreOptions
{
    /// <summary>How long to wait for another process's state lock before giving up.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fold the journal into the snapshot after this many lines, keeping the journal (and cold loads) bounded.</summary>
    public int CompactAfterLines { get; init; } = 5_000;

    /// <summary>How many of the newest runs stay in the hot state whatever their status (the first page of every listing).</summary>
    public int RecentRuns { get; init; } = 500;

    /// <summary>Cold runs (see <see cref="RunStore"/>) wait in the hot state until this many fill a history segment.</summary>
    public int SegmentRuns { get; init; } = 5_000;
}
