namespace TestDispatch.Engine.Results;

/// <summary>
/// One case of a run as <c>show ID --tests</c> gives it (public JSON contract): the case, and what history says of it:
/// <see cref="New"/>, a failure of a case that passed in the latest earlier run of the same test dir; <see cref="Flaky"/>,
/// a case that both passed and failed on the same test dir hash within <c>Results.FlakyWindow</c>.
/// </summary>
public sealed record CaseResult
{
    public required string Suite { get; init; }
    public required string ClassName { get; init; }
    public required string Name { get; init; }
    public required TestCaseStatus Status { get; init; }
    public double? TimeS { get; init; }
    public required string Message { get; init; }
    public required bool New { get; init; }
    public required bool Flaky { get; init; }
    public required string Text { get; init; }
    public string? File { get; init; }
    public int? Line { get; init; }
    public required string Report { get; init; }

    public string FullName => TestCase.QualifiedName(Suite, ClassName, Name);

    public static CaseResult Of(TestCase c, bool isNew, bool flaky) => new()
    {
        Suite = c.Suite, ClassName = c.ClassName, Name = c.Name, Status = c.Status, TimeS = c.TimeSeconds, Message = c.Message,
        New = isNew, Flaky = flaky, Text = c.Text, File = c.File, Line = c.Line, Report = c.Report,
    };
}

/// <summary>
/// A run's results (public JSON contract of <c>show ID --tests --json</c>): its counts, unreadable reports, and its cases,
/// failures first (<see cref="TestCaseOrder"/>), read from its results file each time they are enumerated, never held whole.
/// </summary>
public sealed record RunTests(string Id, TestCounts? Tests, string? ResultsError, IEnumerable<CaseResult> Cases);
