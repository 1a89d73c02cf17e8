using System.IO.Abstractions;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// A walk's hold on history as one index names it. Listings read history after state.lock is let go, so that a long walk
/// never holds other processes up; meanwhile a prune may replace a segment by a new one (which this index does not name)
/// and delete it. So the hold opens every segment it names while the lock is still held: an open file stays readable
/// after it is unlinked, and the walk sees history whole, as it was when the lock was let go. Dispose lets the files go.
/// </summary>
internal sealed class HistoryHold : IDisposable
{
    private readonly Dictionary<long, SegmentFile> _segments = [];
    private readonly List<Stream> _streams = [];

    /// <summary>Call under state.lock.</summary>
    public HistoryHold(IFileSystem fs, StatePaths paths, HistoryIndex index)
    {
        Index = index;
        try
        {
            foreach (SegmentInfo segment in index.Segments)
            {
                string path = paths.Segment(segment.Number);
                if (fs.File.Exists(path))
                {
                    Stream stream = SegmentFile.Open(fs, path);
                    _streams.Add(stream);
                    _segments[segment.Number] = new SegmentFile(fs, path, stream);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public HistoryIndex Index { get; }

    /// <summary>The segment, read from the file held open; null if it was already gone when the hold was taken.</summary>
    public SegmentFile? Segment(long number) => _segments.GetValueOrDefault(number);

    public void Dispose()
    {
        foreach (Stream stream in _streams)
        {
            stream.Dispose();
        }
        _streams.Clear();
    }
}
