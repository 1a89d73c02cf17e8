using System.Xml;

namespace TestDispatch.Engine.Results;

/// <summary>
/// A report that is not a readable JUnit XML file (truncated, not XML, a DTD, another root element). Its message
/// names the report, the line and position of the damage (a DTD's refusal has none) and what was wrong, e.g.
/// "artifacts/junit.xml line 17, position 3: Unexpected end of file has occurred. …". The cases read before the
/// damage have been handed out already.
/// </summary>
public sealed class JUnitFormatException(string report, int line, int position, string problem, Exception? inner = null)
    : Exception(line > 0 ? $"{report} line {line}, position {position}: {problem}" : $"{report}: {problem}", inner)
{
    public string Report { get; } = report;

    /// <summary>1-based; 0 when unknown: XmlReader refuses a DTD without saying where (it can only be before the root element).</summary>
    public int Line { get; } = line;

    public int Position { get; } = position;

    public string Problem { get; } = problem;

    internal static JUnitFormatException From(string report, XmlException e)
    {
        string problem = e.Message;
        string where = $" Line {e.LineNumber}, position {e.LinePosition}.";
        if (problem.EndsWith(where, StringComparison.Ordinal))
        {
            problem = problem[..^where.Length];
        }
        // XmlReader's own text tells the reader to enable DTD processing: the opposite of what we want said.
        if (problem.Contains("DTD is prohibited", StringComparison.Ordinal))
        {
            problem = "the file has a DTD (<!DOCTYPE …>), which is refused: a JUnit report needs none, and a DTD's entities can expand without bound or read other files";
        }
        return new JUnitFormatException(report, e.LineNumber, e.LinePosition, problem, e);
    }
}
