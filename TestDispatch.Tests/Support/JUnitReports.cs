using System.Text;
using TestDispatch.Engine.Results;

namespace TestDispatch.Tests.Support;

/// <summary>JUnit reports for the results tests: read from text or bytes in memory, or from the checked-in fixtures.</summary>
public static class JUnitReports
{
    public const string Name = "artifacts/junit.xml";

    public static JUnitReport Read(string xml) => Read(Encoding.UTF8.GetBytes(xml));

    public static JUnitReport Read(byte[] bytes)
    {
        using MemoryStream stream = new(bytes);
        return JUnitReport.Read(stream, Name);
    }

    /// <summary>A file of TestDispatch.Tests/Results/Fixtures, copied beside the test assembly.</summary>
    public static JUnitReport Fixture(string file) => JUnitReport.Read(FixturePath(file), file);

    public static string FixturePath(string file) => Path.Combine(AppContext.BaseDirectory, "Results", "Fixtures", file);

    public static TestCase Case(this JUnitReport report, string name) =>
        report.Cases.Single(c => c.Name == name);
}
