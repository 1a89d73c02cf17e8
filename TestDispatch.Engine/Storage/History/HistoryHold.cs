using System.IO.Abstractions;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// A walk's hold on history as one index names it. Listings read history after state.lock is let go, so that a long walk
/// never holds other processes up; meanwhile a prune may replace a segment by a new one (which this index does not name).
/// So the hold is a shared lock on history.lock, taken while state.lock is still held: files an index no longer names are
/// removed only by a process that gets history.lock exclusively, at once or not at all (<see cref="RunStore"/>), so none
/// the walk may still open goes while it is under way; they go at the next prune or compaction after it. One lock per
/// walk, whatever the number of segments: it opens each segment only when the merge reaches it. Dispose lets go.
/// </summary>
internal sealed class HistoryHold(IFileSystem fs, StatePaths paths, HistoryIndex index, IDisposable? shared) : IDisposable
{
    public HistoryIndex Index => index;

    /// <summary>The segment; null if it was already gone when the hold was taken (a repair dropped it).</summary>
    public SegmentFile? Segment(long number) =>
        fs.File.Exists(paths.Segment(number)) ? new SegmentFile(fs, paths.Segment(number)) : null;

    public void Dispose() => shared?.Dispose();
}
