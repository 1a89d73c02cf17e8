using System.Globalization;
using System.Text;
using System.Xml;

namespace TestDispatch.Engine.Results;

/// <summary>
/// Gathers one <c>&lt;testcase&gt;</c> while its reader walks it: which verdict elements it holds, the first
/// message of each kind, and its text bounded to head and tail; then decides its status. Precedence is
/// failure &gt; error &gt; flaky &gt; skipped &gt; pass: GitLab's order, with flaky (failed, then passed on a rerun)
/// below what failed for good.
/// </summary>
internal sealed class CaseBuilder
{
    private const int FirstLineLimit = 500;

    // A classname that is a script's file name (bats, some JS reporters) says where the case lives.
    private static readonly string[] ScriptExtensions =
        [".py", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".rb", ".php", ".bats", ".sh", ".robot", ".feature"];

    private readonly HashSet<CasePart> _seen = [];
    private readonly Dictionary<CasePart, string> _messages = [];
    private readonly BoundedText _text = new(BoundedText.TextHead, BoundedText.TextTail);
    private readonly StringBuilder _firstLine = new();
    private readonly TestCase _attributes;
    private CasePart? _current;
    private bool _capturingFirstLine;

    /// <summary>Starts a case from the attributes of the <c>&lt;testcase&gt;</c> element <paramref name="xml"/> is on.</summary>
    public CaseBuilder(XmlReader xml, string report, string suite, string? suiteFile)
    {
        string className = xml.GetAttribute("classname") ?? "";
        int? line = ParseLine(xml.GetAttribute("line"));
        // pytest writes the 0-based line of its node location; its suite is named "pytest" unless configured otherwise.
        if (suite == "pytest" && line is { } zeroBased)
        {
            line = zeroBased + 1;
        }
        _attributes = new TestCase
        {
            Suite = ControlCharacters.Replace(suite),
            ClassName = ControlCharacters.Replace(className),
            Name = ControlCharacters.Replace(xml.GetAttribute("name") ?? ""),
            Status = TestCaseStatus.Passed,
            TimeSeconds = ParseTime(xml.GetAttribute("time")),
            File = NonEmpty(xml.GetAttribute("file")) ?? NonEmpty(suiteFile) ?? FileOf(className),
            Line = line is > 0 ? line : null,
            Report = report,
        };
        // ctest: status="run|fail|disabled|notrun", and a disabled case has no <skipped> element.
        if (StatusPart(xml.GetAttribute("status")) is { } part)
        {
            _seen.Add(part);
        }
    }

    /// <summary>The verdict or output element that <paramref name="element"/> names, null for others (properties, …).</summary>
    public static CasePart? PartOf(string element) => element switch
    {
        // Surefire: rerunFailure/rerunError follow the first failure when every retry failed too.
        "failure" or "rerunFailure" => CasePart.Failure,
        "error" or "rerunError" => CasePart.Error,
        // Surefire: flakyFailure/flakyError when a retry passed.
        "flakyFailure" or "flakyError" => CasePart.Flaky,
        "skipped" => CasePart.Skipped,
        "system-out" or "system-err" => CasePart.Output,
        _ => null,
    };

    public void Begin(CasePart part, string? message, string? type)
    {
        _seen.Add(part);
        if (!_text.IsEmpty)
        {
            _text.Append("\n");
        }
        _current = part;
        if (part == CasePart.Output || _messages.ContainsKey(part))
        {
            return;
        }
        if ((NonEmpty(message) ?? NonEmpty(type)) is { } given)
        {
            _messages[part] = given;
        }
        else
        {
            _firstLine.Clear();
            _capturingFirstLine = true;
        }
    }

    public void Append(ReadOnlySpan<char> text)
    {
        _text.Append(text);
        if (_capturingFirstLine)
        {
            CaptureFirstLine(text);
        }
    }

    public void End()
    {
        if (_current is { } part && part != CasePart.Output && !_messages.ContainsKey(part) && _firstLine.Length > 0)
        {
            _messages[part] = _firstLine.ToString().Trim();
        }
        _current = null;
        _capturingFirstLine = false;
    }

    public TestCase Build()
    {
        (TestCaseStatus status, CasePart? decidedBy) =
            _seen.Contains(CasePart.Failure) ? (TestCaseStatus.Failed, CasePart.Failure)
            : _seen.Contains(CasePart.Error) ? (TestCaseStatus.Error, CasePart.Error)
            : _seen.Contains(CasePart.Flaky) ? (TestCaseStatus.Flaky, CasePart.Flaky)
            : _seen.Contains(CasePart.Skipped) ? (TestCaseStatus.Skipped, CasePart.Skipped)
            : (TestCaseStatus.Passed, (CasePart?)null);
        if (decidedBy is not { } part)
        {
            return _attributes;
        }
        return _attributes with
        {
            Status = status,
            Message = BoundedText.Clip(_messages.GetValueOrDefault(part, ""), BoundedText.MessageHead, BoundedText.MessageTail),
            Text = _text.ToString().Trim(),
        };
    }

    private void CaptureFirstLine(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (_firstLine.Length == 0 && char.IsWhiteSpace(c))
            {
                continue;
            }
            if (c is '\n' or '\r' || _firstLine.Length >= FirstLineLimit)
            {
                _capturingFirstLine = false;
                return;
            }
            _firstLine.Append(c);
        }
    }

    private static CasePart? StatusPart(string? status) => status?.ToLowerInvariant() switch
    {
        "fail" or "failed" or "failure" => CasePart.Failure,
        "error" => CasePart.Error,
        "disabled" or "notrun" or "skipped" => CasePart.Skipped,
        _ => null,
    };

    /// <summary>Seconds; Surefire may write a thousands separator ("1,234.5"), always with a decimal point.</summary>
    internal static double? ParseTime(string? time) =>
        time is not null
        && double.TryParse(time.Replace(",", "", StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds)
        && double.IsFinite(seconds) && seconds >= 0
            ? seconds
            : null;

    private static int? ParseLine(string? line) =>
        int.TryParse(line, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= 0 ? value : null;

    private static string? FileOf(string className) =>
        !className.Any(char.IsWhiteSpace) && ScriptExtensions.Any(e => className.EndsWith(e, StringComparison.OrdinalIgnoreCase))
            ? ControlCharacters.Replace(className)
            : null;

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
