namespace TestDispatch.Engine.Storage;

/// <summary>
/// history/index.json: the root of history (see <see cref="History"/>). It names the live segments and the id index of
/// this generation; a segment or id index it does not name is a leftover of a crash and is never read. Replaced
/// atomically (temp, fsync, rename, fsync dir) after everything it names is durable, so a crash at any step leaves the
/// previous index, whose files are all still there.
/// </summary>
internal sealed record HistoryIndex
{
    public long Generation { get; init; }

    /// <summary>The number the next segment gets: segment numbers are never reused.</summary>
    public long NextSegment { get; init; } = 1;

    /// <summary>The highest run and batch seq in history: new records are made newer than these.</summary>
    public long SeqFloor { get; init; }
    public long BatchSeqFloor { get; init; }

    public List<SegmentInfo> Segments { get; init; } = [];

    /// <summary>
    /// Records ("r:id" or "b:id") whose current copy is in the segment named here, while an older copy is in another:
    /// a record updated after it went to history, or moved twice by a compaction a crash cut short. Listings skip the
    /// older copies. Few, and empty in a store that never saw either.
    /// </summary>
    public Dictionary<string, long>? Replaced { get; init; }

    public static HistoryIndex Empty { get; } = new();

    public int RunCount => Segments.Sum(s => s.Runs);

    public bool IsStale(char kind, string id, long segment) =>
        Replaced is { Count: > 0 } replaced && replaced.TryGetValue($"{kind}:{id}", out long current) && current != segment;
}

/// <summary>
/// What index.json says of one segment: enough to pick the segments a query needs (by seq range for newest-first
/// listings, by end time for prune, by batch for a batch's runs) without opening the others.
/// </summary>
/// <param name="RunsOf">
/// Batches with runs here whose record is in another segment: a batch goes to history once it is over, but its runs that
/// stay hot a while longer (the newest, a machine's last verdict) follow it in later segments.
/// </param>
internal sealed record SegmentInfo(long Number, int Runs, int Batches, long FirstSeq, long LastSeq,
    DateTimeOffset? OldestEnd, DateTimeOffset? NewestEnd, long Bytes, List<BatchSeq>? BatchSeqs = null, List<string>? RunsOf = null)
{
    public bool HoldsRunsOf(string batchId) => RunsOf is { } others && others.Contains(batchId, StringComparer.Ordinal);
}

/// <summary>A batch in a segment and its seq, so batch listings merge segments newest first without reading them.</summary>
internal sealed record BatchSeq(string Id, long Seq);

/// <summary>
/// The first line of a segment file: what follows it (<see cref="Batches"/> batch lines, then <see cref="Runs"/> run
/// lines in seq order, each a journal entry), so a reader can walk it backwards and know where the runs end.
/// </summary>
internal sealed record SegmentHeader(long Segment, int Runs, int Batches, long FirstSeq, long LastSeq);
