namespace TestDispatch.Engine.Runs;

/// <summary>
/// Which runs a listing shows; null fields match everything. <see cref="Text"/> is a case-insensitive
/// substring of any field a person sees: id, machine, status, exit code, error code, batch, test dir. <see cref="TestDir"/> is
/// a whole path as runs record it; <see cref="Since"/> keeps runs that started at or after it (so never a pending one).
/// </summary>
public sealed record RunFilter(RunStatus? Status = null, string? Machine = null, string? BatchId = null, int? Limit = null, string? Text = null,
    string? TestDir = null, DateTimeOffset? Since = null)
{
    public static RunFilter All { get; } = new();

    public bool Matches(Run run) =>
        (Status is null || run.Status == Status) &&
        (Machine is null || run.Machine == Machine) &&
        (BatchId is null || run.BatchId == BatchId) &&
        (TestDir is null || run.TestDir == TestDir) &&
        (Since is null || run.StartedAt >= Since) &&
        (string.IsNullOrEmpty(Text) || MatchesText(run));

    private bool MatchesText(Run run) =>
        Contains(run.Id) || Contains(run.Machine) || Contains(run.Status.ToWord()) || Contains(run.ErrorCode) ||
        Contains(run.TestDir) || Contains(run.BatchId) || Contains(run.PlanEntry) ||
        (run.ExitCode is { } exit && Contains(exit.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private bool Contains(string? field) => field is not null && field.Contains(Text!, StringComparison.OrdinalIgnoreCase);
}
