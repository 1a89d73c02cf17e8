namespace TestDispatch.Engine.Runs;

/// <summary>What a prune removed (or, on a dry run, would remove): the runs, the batches none of whose runs is left, and the bytes of logs and artifacts.</summary>
public sealed record PruneReport(IReadOnlyList<RunRecord> Runs, IReadOnlyList<string> Batches, long Bytes, bool DryRun);
