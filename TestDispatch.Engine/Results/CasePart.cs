namespace TestDispatch.Engine.Results;

/// <summary>The elements inside a <c>&lt;testcase&gt;</c> that decide its status or carry its output.</summary>
internal enum CasePart
{
    Failure,
    Error,
    Flaky,
    Skipped,
    Output,
}
