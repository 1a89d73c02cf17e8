using System.Text;
using System.Text.Json;
using TestDispatch.Engine.Logs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Logs;

[Trait("Category", "Unit")]
public sealed class LogDiffTests : IDisposable
{
    private readonly TempDir _dir = new("logdiff-test-");

    public void Dispose() => _dir.Dispose();

    private string Log(IEnumerable<string> lines, bool finalNewline = true) => Log(string.Join("\n", lines) + (finalNewline ? "\n" : ""));

    private string Log(string content) => Log(Encoding.UTF8.GetBytes(content));

    private string Log(byte[] content)
    {
        string path = _dir.Combine($"{Guid.NewGuid():N}.log");
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>A run's log: the same steps every run, with the times, pid, temp dir and request ids of run <paramref name="run"/>.</summary>
    private static List<string> RunLog(int run, int lines = 200)
    {
        DateTime start = new DateTime(2025, 7, 12, 9, 0, 0, DateTimeKind.Utc).AddHours(run);
        string tmp = $"/tmp/tmp.Run{run}x{run * 7919 % 10000:0000}";
        return
        [
            .. Enumerable.Range(1, lines).Select(i => (i % 4) switch
            {
                0 => $"{start.AddMilliseconds(i * 137):yyyy-MM-ddTHH:mm:ss.fffZ} INFO [worker] pid={4000 + run} step {i} of {lines} done in {0.1 + (run * i % 9) / 10.0:0.0}s",
                1 => $"wrote {i * 512} bytes to {tmp}/out_{i}.bin",
                2 => $"request {Guid.NewGuid()} for item {i}: expected {i % 5} got {i % 5}",
                _ => $"Jul 12 {9 + run:00}:{i % 60:00}:{(i * 7) % 60:00} lab-host harness[{4000 + run}]: check {i} ok",
            }),
        ];
    }

    [Fact]
    public void Only_the_changed_line_shows_when_times_pids_and_temp_paths_differ_everywhere()
    {
        List<string> passing = RunLog(1), failing = RunLog(2);
        failing[101] = failing[101].Replace("expected 2 got 2", "expected 2 got 3", StringComparison.Ordinal);

        LogDiffResult diff = LogDiff.Compare(Log(passing), Log(failing));

        Assert.Equal(LogDiffOutcome.Different, diff.Outcome);
        DiffHunk hunk = Assert.Single(diff.Hunks);
        Assert.Equal((99L, 7L, 99L, 7L), (hunk.StartA, hunk.CountA, hunk.StartB, hunk.CountB));
        Assert.Equal(
            [DiffLineKind.Context, DiffLineKind.Context, DiffLineKind.Context, DiffLineKind.Removed, DiffLineKind.Added,
                DiffLineKind.Context, DiffLineKind.Context, DiffLineKind.Context],
            hunk.Lines.Select(l => l.Kind));
        DiffLine removed = hunk.Lines[3], added = hunk.Lines[4];
        Assert.Equal((102L, (long?)null, passing[101]), (removed.LineA!.Value, removed.LineB, removed.Text));
        Assert.Equal(((long?)null, 102L, failing[101]), (added.LineA, added.LineB!.Value, added.Text));
        Assert.Equal(passing[98], hunk.Lines[0].Text); // context shows the reference log's lines, unfolded
        Assert.Equal((1L, 1L), (diff.Removed, diff.Added));
        Assert.Equal((200L, 200L, 101L, 98L), (diff.LinesA, diff.LinesB, diff.CommonPrefixLines, diff.CommonSuffixLines));
    }

    [Fact]
    public void Logs_that_differ_only_in_volatile_tokens_are_equal()
    {
        LogDiffResult diff = LogDiff.Compare(Log(RunLog(1)), Log(RunLog(2)));

        Assert.Equal(LogDiffOutcome.Equal, diff.Outcome);
        Assert.Empty(diff.Hunks);
        Assert.Equal("", UnifiedDiff.Render(diff));
        Assert.Equal(LogDiffOutcome.Different, LogDiff.Compare(Log(RunLog(1)), Log(RunLog(2)), new LogDiffOptions(FoldVolatile: false)).Outcome);
    }

    [Fact]
    public void A_missing_final_newline_is_not_a_difference()
    {
        Assert.Equal(LogDiffOutcome.Equal, LogDiff.Compare(Log(["a", "b"], finalNewline: false), Log(["a", "b"])).Outcome);
        Assert.Equal(LogDiffOutcome.Equal, LogDiff.Compare(Log(""), Log("")).Outcome);
    }

    private static readonly string[] Ten = ["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "L10"];

    [Theory]
    [InlineData("insert at start", "@@ -1,3 +1,5 @@\n+X1\n+X2\n L1\n L2\n L3\n")]
    [InlineData("delete at start", "@@ -1,5 +1,3 @@\n-L1\n-L2\n L3\n L4\n L5\n")]
    [InlineData("insert at end", "@@ -8,3 +8,5 @@\n L8\n L9\n L10\n+X1\n+X2\n")]
    [InlineData("delete at end", "@@ -6,5 +6,3 @@\n L6\n L7\n L8\n-L9\n-L10\n")]
    [InlineData("from empty", "@@ -0,0 +1,10 @@\n+L1\n+L2\n+L3\n+L4\n+L5\n+L6\n+L7\n+L8\n+L9\n+L10\n")]
    [InlineData("to empty", "@@ -1,10 +0,0 @@\n-L1\n-L2\n-L3\n-L4\n-L5\n-L6\n-L7\n-L8\n-L9\n-L10\n")]
    [InlineData("one replaced", "@@ -2,7 +2,7 @@\n L2\n L3\n L4\n-L5\n+X1\n L6\n L7\n L8\n")]
    public void Changes_at_the_edges_make_the_hunks_diff_u_makes(string change, string hunks)
    {
        string[] other = change switch
        {
            "insert at start" => ["X1", "X2", .. Ten],
            "delete at start" => Ten[2..],
            "insert at end" => [.. Ten, "X1", "X2"],
            "delete at end" => Ten[..^2],
            "from empty" => Ten,
            "to empty" => [],
            _ => [.. Ten[..4], "X1", .. Ten[5..]],
        };
        string a = change == "from empty" ? Log("") : Log(Ten), b = other.Length == 0 ? Log("") : Log(other);

        string rendered = UnifiedDiff.Render(LogDiff.Compare(a, b), "a", "b");

        Assert.Equal("--- a\n+++ b\n" + hunks, rendered);
    }

    [Fact]
    public void Changes_closer_than_twice_the_context_share_a_hunk()
    {
        string[] lines = [.. Enumerable.Range(1, 60).Select(i => $"line {i}")];
        string[] changed = [.. lines];
        changed[9] = "changed 10";
        changed[15] = "changed 16"; // 5 equal lines apart: one hunk
        changed[40] = "changed 41"; // far: a hunk of its own

        LogDiffResult diff = LogDiff.Compare(Log(lines), Log(changed));

        Assert.Equal([(7L, 13L), (38L, 7L)], diff.Hunks.Select(h => (h.StartA, h.CountA)));
        Assert.Equal(5, diff.Hunks[0].Lines.Count(l => l.Kind == DiffLineKind.Context && l.LineA is > 10 and < 16));
    }

    [Fact]
    public void Logs_further_apart_than_the_bounds_are_too_different_to_align_with_counts()
    {
        string[] a = [.. Enumerable.Range(1, 1000).Select(i => $"a {i}")], b = [.. Enumerable.Range(1, 900).Select(i => $"b {i}")];

        LogDiffResult byEdits = LogDiff.Compare(Log(["same start", .. a, "same end"]), Log(["same start", .. b, "same end"]), new LogDiffOptions(MaxEdits: 500));
        LogDiffResult byMiddle = LogDiff.Compare(Log(a), Log(b), new LogDiffOptions(MaxMiddleLines: 100));

        Assert.Equal(LogDiffOutcome.TooDifferent, byEdits.Outcome);
        Assert.Empty(byEdits.Hunks);
        Assert.Equal((1L, 1L, 1000L, 900L), (byEdits.CommonPrefixLines, byEdits.CommonSuffixLines, byEdits.MiddleLinesA, byEdits.MiddleLinesB));
        Assert.Contains("more than 500 changed lines", byEdits.Reason, StringComparison.Ordinal);
        Assert.StartsWith("Logs a and b differ, too different to align", UnifiedDiff.Render(byEdits, "a", "b"), StringComparison.Ordinal);
        Assert.Equal(LogDiffOutcome.TooDifferent, byMiddle.Outcome);
        Assert.Contains("more than 100 lines of A and of B", byMiddle.Reason, StringComparison.Ordinal);
        Assert.Equal(LogDiffOutcome.Different, LogDiff.Compare(Log(a), Log(b), new LogDiffOptions(MaxEdits: 2000)).Outcome);
    }

    [Fact]
    public void Binary_lines_are_compared_as_bytes_and_shown_escaped()
    {
        string a = Log([.. "start\n"u8, 0x00, 0xFE, 0x1B, .. "\tx\nend\n"u8]), b = Log([.. "start\n"u8, 0x00, 0xFF, 0x1B, .. "\tx\nend\n"u8]);

        LogDiffResult diff = LogDiff.Compare(a, b);

        Assert.Equal(["\\x00\\xfe\\x1b\tx", "\\x00\\xff\\x1b\tx"], diff.Hunks.Single().Lines.Where(l => l.Kind != DiffLineKind.Context).Select(l => l.Text));
    }

    [Fact]
    public void Lines_longer_than_the_read_buffer_are_compared_whole_and_shown_cut()
    {
        string body = new('x', 3 * 1024 * 1024);
        string a = Log(["head", $"2025-07-12T09:00:00Z {body} tail-a", "end"]);
        string sameButTime = Log(["head", $"2025-07-13T10:11:12Z {body} tail-a", "end"]);
        string changedTail = Log(["head", $"2025-07-12T09:00:00Z {body} tail-b", "end"]);

        Assert.Equal(LogDiffOutcome.Equal, LogDiff.Compare(a, sameButTime).Outcome);
        LogDiffResult diff = LogDiff.Compare(a, changedTail, new LogDiffOptions(MaxLineBytes: 100));
        DiffLine removed = diff.Hunks.Single().Lines.Single(l => l.Kind == DiffLineKind.Removed);
        Assert.True(removed.Cut);
        Assert.Equal("2025-07-12T09:00:00Z " + new string('x', 79) + LineText.Marker, removed.Text);
    }

    [Fact]
    public void The_json_model_is_snake_case_with_outcomes_and_kinds_as_strings()
    {
        LogDiffResult diff = LogDiff.Compare(Log(["a", "b"]), Log(["a", "c"]));

        string json = JsonSerializer.Serialize(diff, LogJson.Default.LogDiffResult);

        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        Assert.Equal("different", root.GetProperty("outcome").GetString());
        Assert.Equal(1, root.GetProperty("common_prefix_lines").GetInt64());
        JsonElement line = root.GetProperty("hunks")[0].GetProperty("lines")[1];
        Assert.Equal(("removed", 2, JsonValueKind.Null, "b"),
            (line.GetProperty("kind").GetString(), line.GetProperty("line_a").GetInt64(), line.GetProperty("line_b").ValueKind, line.GetProperty("text").GetString()));
    }

    [Fact]
    public void A_missing_log_is_gone()
    {
        Assert.Throws<LogGoneException>(() => LogDiff.Compare(Log(["a"]), _dir.Combine("nope.log")));
    }

    [Fact]
    public void The_alignment_is_a_shortest_edit_script()
    {
        Random random = new(7);
        for (int round = 0; round < 300; round++)
        {
            ulong[] a = [.. Enumerable.Range(0, random.Next(0, 40)).Select(_ => (ulong)random.Next(4))];
            ulong[] b = [.. Enumerable.Range(0, random.Next(0, 40)).Select(_ => (ulong)random.Next(4))];

            (bool[] changedA, bool[] changedB) = MyersDiff.Diff(a, a.Length, b, b.Length, maxEdits: 100, maxSteps: long.MaxValue)!.Value;

            // What is left unchanged on both sides is the same sequence, and as long as the longest common one.
            ulong[] keptA = [.. a.Where((_, i) => !changedA[i])], keptB = [.. b.Where((_, i) => !changedB[i])];
            Assert.Equal(keptA, keptB);
            Assert.Equal(LongestCommonSubsequence(a, b), keptA.Length);
        }
    }

    private static int LongestCommonSubsequence(ulong[] a, ulong[] b)
    {
        int[,] lengths = new int[a.Length + 1, b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                lengths[i, j] = a[i - 1] == b[j - 1] ? lengths[i - 1, j - 1] + 1 : Math.Max(lengths[i - 1, j], lengths[i, j - 1]);
            }
        }
        return lengths[a.Length, b.Length];
    }
}
