namespace TestDispatch.Engine.Storage;

/// <summary>Tuning for <see cref="RunStore"/>; the defaults suit a lab controller.</summary>
public sealed record StoreOptions
{
    /// <summary>How long to wait for another process's state lock before giving up.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Fold the journal into the snapshot after this many lines, keeping the journal (and cold loads) bounded.</summary>
    public int CompactAfterLines { get; init; } = 20_000;
}
