using TestDispatch.Engine.Results;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Results;

[Trait("Category", "Unit")]
public class CaseHistoryTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static CaseIndexEntry Entry(string run, string dir, string hash, int daysAgo, params (string Name, TestCaseStatus Status)[] cases) =>
        new(run, dir, hash, "m", Now.AddDays(-daysAgo), [.. cases.Select(c => new CaseOutcome(c.Name, c.Status, 0.1))]);

    [Fact]
    public void A_failure_is_new_only_against_the_latest_earlier_run_of_the_same_test_dir()
    {
        IReadOnlyList<CaseIndexEntry> index =
        [
            Entry("r1", "/t", "h1", 3, ("a", TestCaseStatus.Passed), ("b", TestCaseStatus.Passed)),
            Entry("r2", "/t", "h2", 2, ("a", TestCaseStatus.Failed), ("b", TestCaseStatus.Passed)),
            Entry("x", "/other", "h9", 1, ("a", TestCaseStatus.Passed), ("b", TestCaseStatus.Passed)),
            Entry("r3", "/t", "h2", 0, ("a", TestCaseStatus.Failed), ("b", TestCaseStatus.Error)),
        ];

        Assert.Equal(["a"], CaseHistory.NewFailures(index, "r2"));
        Assert.Equal(["b"], CaseHistory.NewFailures(index, "r3"));
        Assert.Empty(CaseHistory.NewFailures(index, "r1"));
    }

    [Fact]
    public void A_case_is_flaky_when_it_passed_and_failed_on_the_same_hash_within_the_window()
    {
        IReadOnlyList<CaseIndexEntry> index =
        [
            Entry("old", "/t", "h", 20, ("a", TestCaseStatus.Failed)),
            Entry("r1", "/t", "h", 5, ("a", TestCaseStatus.Passed), ("b", TestCaseStatus.Failed), ("c", TestCaseStatus.Flaky)),
            Entry("other", "/t", "h-changed", 4, ("b", TestCaseStatus.Passed)),
            Entry("r2", "/t", "h", 1, ("a", TestCaseStatus.Passed), ("b", TestCaseStatus.Error)),
        ];

        Assert.Equal(["c"], CaseHistory.Flaky(index, "r2", TimeSpan.FromDays(14)).Order());
        Assert.Equal(["a", "c"], CaseHistory.Flaky(index, "r2", TimeSpan.FromDays(30)).Order());
    }

    [Fact]
    public void The_flaky_window_ends_at_the_runs_own_end_so_an_old_run_stays_as_it_was_and_later_runs_do_not_count()
    {
        IReadOnlyList<CaseIndexEntry> index =
        [
            Entry("older", "/t", "h", 32, ("a", TestCaseStatus.Failed), ("b", TestCaseStatus.Passed)),
            Entry("old", "/t", "h", 30, ("a", TestCaseStatus.Passed), ("b", TestCaseStatus.Passed)),
            Entry("later", "/t", "h", 1, ("a", TestCaseStatus.Passed), ("b", TestCaseStatus.Failed)),
        ];

        // Thirty days on, a 14-day window counted from now would hold neither "older" nor "old"; b failing later is not old's.
        Assert.Equal(["a"], CaseHistory.Flaky(index, "old", TimeSpan.FromDays(14)));
        Assert.Empty(CaseHistory.Flaky(index, "later", TimeSpan.FromDays(14)));
        Assert.Equal(["a", "b"], CaseHistory.Flaky(index, "later", TimeSpan.FromDays(31)).Order());
        Assert.Empty(CaseHistory.Flaky(index, "unknown", TimeSpan.FromDays(14)));
    }

    [Fact]
    public void The_index_reads_back_what_was_appended_skipping_a_torn_line_and_a_run_recorded_twice()
    {
        using TempDir dir = new();
        CaseIndex index = new(dir.Combine(CaseIndex.FileName));
        CaseIndexEntry first = Entry("r1", "/t", "h", 1, ("a", TestCaseStatus.Passed));
        CaseIndexEntry second = Entry("r2", "/t", "h", 0, ("a", TestCaseStatus.Failed));

        index.Append(first);
        File.AppendAllText(index.Path, """{"run":"torn","test_dir":""");
        index.Append(second);
        index.Append(second with { Cases = [] });

        IReadOnlyList<CaseIndexEntry> read = [.. index.Read()];
        Assert.Equal(["r1", "r2"], read.Select(e => e.Run));
        Assert.Equal(second.Cases, read[1].Cases);
        Assert.Equal(first.EndedAt, read[0].EndedAt);
    }

    [Theory]
    [InlineData("test_current[\"1 µA\"]", "test_current[\"1 µA\"]")]
    [InlineData("test_path[C:\\tmp\\x]", "C:\\tmp")]
    [InlineData("test_тест", "тест")]
    public void History_finds_a_case_whose_name_the_index_writes_escaped_by_its_whole_name_or_a_part(string name, string asked)
    {
        using TempDir dir = new();
        CaseIndex index = new(dir.Combine(CaseIndex.FileName));
        string full = $"pytest::test_lab::{name}";
        index.Append(Entry("r1", "/t", "h", 2, (full, TestCaseStatus.Passed), ("pytest::test_lab::other", TestCaseStatus.Failed)));
        index.Append(Entry("r2", "/t", "h", 1, ("pytest::test_lab::other", TestCaseStatus.Passed)));
        index.Append(Entry("r3", "/t", "h", 0, (full, TestCaseStatus.Failed)));
        // The quote, backslash or non-ASCII letters are escaped on disk: a filter on the raw line must not look for them as they are.
        Assert.DoesNotContain(asked, File.ReadAllText(index.Path), StringComparison.Ordinal);

        CaseLookup found = CaseHistory.Find(index.Read(asked), asked);

        Assert.Equal(full, found.Name);
        Assert.Equal([("r3", TestCaseStatus.Failed), ("r1", TestCaseStatus.Passed)], found.Runs.Select(r => (r.Run, r.Status)));
    }
}
