namespace TestDispatch.Engine.Results;

/// <summary>
/// One report read to its end or to its damage: its cases, a case listed more than once merged into one
/// (<see cref="RepeatedCases"/>), and the <see cref="JUnitFormatException"/> that stopped the reading, if any.
/// The cases before the damage are kept.
/// </summary>
public sealed record JUnitReport(string Name, IReadOnlyList<TestCase> Cases, JUnitFormatException? Error)
{
    /// <summary>Reads the report at <paramref name="path"/>; I/O failures (missing, unreadable) are thrown.</summary>
    public static JUnitReport Read(string path, string? name = null, CancellationToken cancellationToken = default) =>
        Collect(name ?? path, JUnitReader.Read(path, name ?? path), cancellationToken);

    public static JUnitReport Read(Stream stream, string name, CancellationToken cancellationToken = default) =>
        Collect(name, JUnitReader.Read(stream, name), cancellationToken);

    private static JUnitReport Collect(string name, IEnumerable<TestCase> reading, CancellationToken cancellationToken)
    {
        List<TestCase> cases = [];
        JUnitFormatException? error = null;
        try
        {
            foreach (TestCase testCase in reading)
            {
                cancellationToken.ThrowIfCancellationRequested();
                cases.Add(testCase);
            }
        }
        catch (JUnitFormatException e)
        {
            error = e;
        }
        return new JUnitReport(name, RepeatedCases.Merge(cases), error);
    }
}
