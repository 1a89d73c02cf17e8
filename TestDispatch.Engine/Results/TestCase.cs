namespace TestDispatch.Engine.Results;

/// <summary>
/// One test case from a JUnit XML report. <see cref="Text"/> keeps only the head and tail of what the report
/// says about a case that did not pass, so a case costs a few KiB whatever its report printed.
/// </summary>
public sealed record TestCase
{
    /// <summary>At most this many characters in <see cref="Text"/>: head, a "characters cut" marker, tail.</summary>
    public const int MaxTextLength = BoundedText.TextHead + BoundedText.MarkerMaxLength + BoundedText.TextTail;

    /// <summary>At most this many characters in <see cref="Message"/>.</summary>
    public const int MaxMessageLength = BoundedText.MessageHead + BoundedText.MarkerMaxLength + BoundedText.MessageTail;

    /// <summary>
    /// The innermost named <c>&lt;testsuite&gt;</c> around the case: the producers that nest suites (PHPUnit)
    /// name the class there, and the outer ones are only groupings such as a phpunit.xml suite.
    /// </summary>
    public required string Suite { get; init; }

    /// <summary>The <c>classname</c> attribute, "" when absent: pytest's module and class, Surefire's class, go's package.</summary>
    public string ClassName { get; init; } = "";

    public required string Name { get; init; }
    public required TestCaseStatus Status { get; init; }

    /// <summary>Seconds, null when the report gives none or gives something that is not a number.</summary>
    public double? TimeSeconds { get; init; }

    /// <summary>
    /// Why it did not pass, in short: the <c>message</c> of the failure (error, flaky failure, skip) that decided its
    /// status, else its <c>type</c>, else the first line of its text; at most <see cref="MaxMessageLength"/>. "" for a passed case.
    /// </summary>
    public string Message { get; init; } = "";

    /// <summary>
    /// For a case that did not pass: the text of its failure, error or skip elements, then its system-out and
    /// system-err, in report order, head and tail kept (<see cref="MaxTextLength"/>). "" for a passed case.
    /// Control characters are shown as their pictures (ESC as ␛), so the text is safe to print on a terminal.
    /// </summary>
    public string Text { get; init; } = "";

    /// <summary>The source file, when the report names it (<c>file</c> on the case or its suite, or a <c>classname</c> that is a script's file name).</summary>
    public string? File { get; init; }

    /// <summary>The 1-based line in <see cref="File"/>, when the report gives it (pytest's 0-based line is corrected).</summary>
    public int? Line { get; init; }

    /// <summary>The report the case was read from, as named to the reader (e.g. "artifacts/junit.xml").</summary>
    public required string Report { get; init; }

    /// <summary>Suite, class and name, as <see cref="QualifiedName"/> joins them: what names a case from run to run.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string FullName => QualifiedName(Suite, ClassName, Name);

    /// <summary>"pytest::test_lab::test_fails": the non-empty parts joined by "::".</summary>
    public static string QualifiedName(string suite, string className, string name) =>
        string.Join("::", new[] { suite, className, name }.Where(p => p.Length > 0));
}
