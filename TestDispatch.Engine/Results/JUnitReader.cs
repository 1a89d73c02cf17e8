using System.Text;
using System.Xml;

namespace TestDispatch.Engine.Results;

/// <summary>
/// Reads a JUnit XML report as a stream of test cases, one per <c>&lt;testcase&gt;</c>, handed out as they are read:
/// a case listed twice comes twice (<see cref="JUnitReport"/> merges them). Memory stays bounded whatever the
/// report's size, since text is read in chunks keeping head and tail. A DTD is refused, never expanded.
/// A damaged report raises <see cref="JUnitFormatException"/> after the cases before the damage.
/// </summary>
public static class JUnitReader
{
    private const int DecodeBufferSize = 64 * 1024;

    internal static XmlReaderSettings Settings { get; } = new()
    {
        // Billion laughs and external entities: no DTD is ever processed, and nothing is fetched.
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        // Lets character references such as &#27; through; raw control characters are replaced before the reader.
        CheckCharacters = false,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
        IgnoreWhitespace = true,
        CloseInput = false,
    };

    /// <summary>The cases of the report at <paramref name="path"/>; <paramref name="report"/> names it in cases and errors (default: the path).</summary>
    public static IEnumerable<TestCase> Read(string path, string? report = null)
    {
        // Shared: a report may still be written to, or be removed, while we read it.
        using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        foreach (TestCase testCase in Read(stream, report ?? path))
        {
            yield return testCase;
        }
    }

    /// <summary>
    /// The cases of the report in <paramref name="stream"/>, read as UTF-8 (or UTF-16/32 with a byte order mark;
    /// every producer we know writes UTF-8). The stream is left open.
    /// </summary>
    public static IEnumerable<TestCase> Read(Stream stream, string report)
    {
        using ControlCharacterFilter text = new(new StreamReader(stream, Encoding.UTF8, true, DecodeBufferSize, leaveOpen: true));
        using XmlReader xml = XmlReader.Create(text, Settings);
        JUnitParser parser = new(xml, report);
        while (parser.Next() is { } testCase)
        {
            yield return testCase;
        }
    }
}
