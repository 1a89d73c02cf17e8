using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Results;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Results;

/// <summary><c>show ID --tests --json</c> writes its cases as they are read, and its output is the contract's, byte for byte.</summary>
[Trait("Category", "Unit")]
public class ShowTestsJsonTests
{
    private static CaseResult Case(string name, TestCaseStatus status, string message = "", string text = "") => new()
    {
        Suite = "s", ClassName = "c", Name = name, Status = status, TimeS = 0.25, Message = message, New = status == TestCaseStatus.Failed,
        Flaky = false, Text = text, Report = "artifacts/junit.xml",
    };

    public static TheoryData<RunTests> Results() => new()
    {
        new RunTests("abc123", new TestCounts(2, 1, 1, 0, 0, 0), null,
            [Case("breaks 'it' \"now\" $x", TestCaseStatus.Failed, "line1\nline2 é \u001b[31m", "trace\n\tat x"), Case("ok", TestCaseStatus.Passed)]),
        new RunTests("abc123", null, "artifacts/junit.xml line 1: cut short", []),
        new RunTests("abc123", new TestCounts(1, 1, 0, 0, 0, 0), "r.xml: cut", [.. Enumerable.Range(0, 3000).Select(i => Case($"case{i}", TestCaseStatus.Passed))]),
    };

    [Theory]
    [MemberData(nameof(Results))]
    public async Task Its_output_is_the_whole_record_serialized_by_its_contract(RunTests results)
    {
        StringWriter output = new();

        await ShowCommand.WriteTestsJsonAsync(output, results);

        Assert.Equal(JsonSerializer.Serialize(results with { Cases = [.. results.Cases] }, ContractJson.Default.RunTests) + output.NewLine, output.ToString());
    }
}
