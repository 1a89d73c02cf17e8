using System.Xml;

namespace TestDispatch.Engine.Results;

/// <summary>
/// Walks a report's XML to its next <c>&lt;testcase&gt;</c>, keeping the stack of suites around it. Text is only
/// ever read in chunks (<see cref="XmlReader.ReadValueChunk"/>), never as a whole value: asking a node for its
/// Value would hold all of a 200 MB system-out at once.
/// </summary>
internal sealed class JUnitParser(XmlReader xml, string report)
{
    private readonly Stack<(string Name, string? File)> _suites = new();
    private readonly char[] _chunk = new char[4096];
    private bool _sawRoot;

    /// <summary>The next case, or null at the end of the report.</summary>
    public TestCase? Next()
    {
        try
        {
            return ReadToNextCase();
        }
        catch (XmlException e)
        {
            throw JUnitFormatException.From(report, e);
        }
    }

    private TestCase? ReadToNextCase()
    {
        while (xml.Read())
        {
            if (xml.NodeType == XmlNodeType.Element)
            {
                if (!_sawRoot)
                {
                    CheckRoot();
                }
                if (xml.LocalName == "testsuite" && !xml.IsEmptyElement)
                {
                    _suites.Push((xml.GetAttribute("name") ?? "", xml.GetAttribute("file")));
                }
                else if (xml.LocalName == "testcase")
                {
                    return ReadCase();
                }
            }
            else if (xml.NodeType == XmlNodeType.EndElement && xml.LocalName == "testsuite")
            {
                _suites.TryPop(out _);
            }
        }
        return null;
    }

    private void CheckRoot()
    {
        _sawRoot = true;
        if (xml.LocalName is not ("testsuites" or "testsuite"))
        {
            IXmlLineInfo at = (IXmlLineInfo)xml;
            throw new JUnitFormatException(report, at.LineNumber, at.LinePosition,
                $"the root element is <{xml.Name}>, not <testsuites> or <testsuite>: this is not a JUnit report");
        }
    }

    private TestCase ReadCase()
    {
        // Nested suites (PHPUnit): the innermost one with a name, and the nearest file any of them names.
        string suite = _suites.Select(s => s.Name).FirstOrDefault(n => n.Length > 0) ?? "";
        string? suiteFile = _suites.Select(s => s.File).FirstOrDefault(f => !string.IsNullOrEmpty(f));
        CaseBuilder builder = new(xml, report, suite, suiteFile);
        if (xml.IsEmptyElement)
        {
            return builder.Build();
        }
        int caseDepth = xml.Depth;
        int partDepth = -1;
        while (xml.Read())
        {
            switch (xml.NodeType)
            {
                case XmlNodeType.Element when partDepth < 0 && xml.Depth == caseDepth + 1:
                    if (CaseBuilder.PartOf(xml.LocalName) is { } part)
                    {
                        builder.Begin(part, xml.GetAttribute("message"), xml.GetAttribute("type"));
                        if (xml.IsEmptyElement)
                        {
                            builder.End();
                        }
                        else
                        {
                            partDepth = xml.Depth;
                        }
                    }
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.SignificantWhitespace or XmlNodeType.Whitespace when partDepth >= 0:
                    int read;
                    while ((read = xml.ReadValueChunk(_chunk, 0, _chunk.Length)) > 0)
                    {
                        builder.Append(_chunk.AsSpan(0, read));
                    }
                    break;
                case XmlNodeType.EndElement when xml.Depth == partDepth:
                    builder.End();
                    partDepth = -1;
                    break;
                case XmlNodeType.EndElement when xml.Depth == caseDepth:
                    return builder.Build();
            }
        }
        // XmlReader throws at a premature end; this is for a reader that would not.
        throw new XmlException("the report ends inside a <testcase>");
    }
}
