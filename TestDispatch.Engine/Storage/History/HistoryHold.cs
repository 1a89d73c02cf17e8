using System.IO.Abstractions;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// A walk's hold on history as one index names it. Listings read history after state.lock is let go, so that a long walk
/// never holds other processes up; meanwhile a prune may replace a segment by a new one (which this index does not name).
/// So the hold is a shared lock on history.lock, taken while state.lock is still held: files an index no longer names are
/// removed only by a process that gets history.lock exclusively, at once or not at all (<see cref="RunStore"/>), so none
/// the walk may still open goes while it is under way; they go at the next prune or compaction after it. One lock per
/// walk, whatever the number of segments: it opens each segment only when the merge reaches it. Dispose lets go.
/// Should a segment the index names be gone all the same (history.lock deleted meanwhile, or no hold could be had),
/// the walk fails saying so: a listing never leaves runs out without a word.
/// </summary>
internal sealed class HistoryHold(IFileSystem fs, StatePaths paths, HistoryIndex index, IDisposable? shared) : IDisposable
{
    public HistoryIndex Index => index;

    /// <summary>The segment, which must still be there.</summary>
    public SegmentFile Segment(long number)
    {
        string path = paths.Segment(number);
        return fs.File.Exists(path) ? new SegmentFile(fs, path) : throw new DispatchException(ErrorCodes.StateCorrupt,
            $"history segment {path} is gone, though the history index this listing read names it: it was removed while the listing " +
            $"walked ({paths.HistoryLock} deleted meanwhile?). Nothing was changed; run the command again, and 'testdispatch doctor' if it fails again.");
    }

    public void Dispose() => shared?.Dispose();
}
