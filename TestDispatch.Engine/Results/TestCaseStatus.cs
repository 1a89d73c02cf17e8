using System.Text.Json.Serialization;

namespace TestDispatch.Engine.Results;

/// <summary>
/// What became of one test case, as its report says. The JSON words are a public contract. Flaky: it failed and
/// then passed on a rerun inside the same report (Surefire's <c>flakyFailure</c>, gotestsum's repeated case).
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<TestCaseStatus>))]
public enum TestCaseStatus
{
    [JsonStringEnumMemberName("passed")] Passed,
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("error")] Error,
    [JsonStringEnumMemberName("skipped")] Skipped,
    [JsonStringEnumMemberName("flaky")] Flaky,
}

public static class TestCaseStatusWords
{
    /// <summary>The contract's word for the status: passed, failed, error, skipped, flaky.</summary>
    public static string Word(this TestCaseStatus status) => status switch
    {
        TestCaseStatus.Passed => "passed",
        TestCaseStatus.Failed => "failed",
        TestCaseStatus.Error => "error",
        TestCaseStatus.Skipped => "skipped",
        TestCaseStatus.Flaky => "flaky",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}
