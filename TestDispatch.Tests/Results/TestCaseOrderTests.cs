using System.Text.Json;
using TestDispatch.Engine.Results;

namespace TestDispatch.Tests.Results;

[Trait("Category", "Unit")]
public class TestCaseOrderTests
{
    private static TestCase Case(string suite, string name, TestCaseStatus status) =>
        new() { Suite = suite, Name = name, Status = status, Report = "junit.xml" };

    [Fact]
    public void Failures_come_first_then_errors_flaky_skipped_and_passed_each_in_report_order_a_pass_per_status_present()
    {
        TestCase[] cases =
        [
            Case("b", "pass", TestCaseStatus.Passed), Case("a", "skip", TestCaseStatus.Skipped), Case("b", "fail", TestCaseStatus.Failed),
            Case("a", "flaky", TestCaseStatus.Flaky), Case("a", "pass", TestCaseStatus.Passed), Case("a", "error", TestCaseStatus.Error),
            Case("a", "fail2", TestCaseStatus.Failed), Case("a", "fail1", TestCaseStatus.Failed),
        ];
        int passes = 0;

        TestCase[] ordered = [.. TestCaseOrder.FailuresFirst(() => { passes++; return cases; })];

        Assert.Equal(
            ["b/fail", "a/fail2", "a/fail1", "a/error", "a/flaky", "a/skip", "b/pass", "a/pass"],
            ordered.Select(c => $"{c.Suite}/{c.Name}"));
        Assert.Equal(5, passes);
    }

    [Fact]
    public void Cases_that_all_passed_take_two_passes_and_none_take_one()
    {
        int passes = 0;

        TestCase[] ordered = [.. TestCaseOrder.FailuresFirst(() => { passes++; return [Case("s", "1", TestCaseStatus.Passed), Case("s", "2", TestCaseStatus.Passed)]; })];
        int emptyPasses = 0;
        TestCase[] none = [.. TestCaseOrder.FailuresFirst(() => { emptyPasses++; return []; })];

        Assert.Equal(["1", "2"], ordered.Select(c => c.Name));
        Assert.Equal((2, 1), (passes, emptyPasses));
        Assert.Empty(none);
    }

    [Fact]
    public void Counts_add_up_to_the_total_and_have_their_contract_names()
    {
        TestCounts counts = TestCounts.Of(
        [
            Case("s", "1", TestCaseStatus.Passed), Case("s", "2", TestCaseStatus.Passed), Case("s", "3", TestCaseStatus.Failed),
            Case("s", "4", TestCaseStatus.Error), Case("s", "5", TestCaseStatus.Skipped), Case("s", "6", TestCaseStatus.Flaky),
        ]);

        Assert.Equal(new TestCounts(6, 2, 1, 1, 1, 1), counts);
        Assert.Equal(TestCounts.Zero, TestCounts.Of([]));
        Assert.Equal(
            """{"total":6,"passed":2,"failed":1,"errors":1,"skipped":1,"flaky":1}""",
            JsonSerializer.Serialize(counts, ResultsJson.Default.TestCounts));
    }
}
