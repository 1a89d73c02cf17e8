namespace TestDispatch.Engine.Runs;

/// <summary>Which runs a listing shows; null fields match everything.</summary>
public sealed record RunFilter(RunStatus? Status = null, string? Machine = null, string? BatchId = null, int? Limit = null)
{
    public static RunFilter All { get; } = new();

    public bool Matches(Run run) =>
        (Status is null || run.Status == Status) &&
        (Machine is null || run.Machine == Machine) &&
        (BatchId is null || run.BatchId == BatchId);
}
