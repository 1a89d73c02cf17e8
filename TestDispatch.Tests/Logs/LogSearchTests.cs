using System.Text;
using System.Text.Json;
using TestDispatch.Engine.Logs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Logs;

[Trait("Category", "Unit")]
public sealed class LogSearchTests : IDisposable
{
    private readonly TempDir _dir = new("logsearch-test-");

    public void Dispose() => _dir.Dispose();

    private string Log(string content) => Log(Encoding.UTF8.GetBytes(content));

    private string Log(byte[] content)
    {
        string path = _dir.Combine($"{Guid.NewGuid():N}.log");
        File.WriteAllBytes(path, content);
        return path;
    }

    private static string Numbered(int count, Func<int, string> line) => string.Concat(Enumerable.Range(1, count).Select(i => line(i) + "\n"));

    /// <summary>The hits grep -n would report: 1-based numbers, byte offsets and texts of the lines <paramref name="matches"/> accepts.</summary>
    private static List<LogHit> Expected(string content, Func<string, bool> matches)
    {
        List<LogHit> hits = [];
        long offset = 0, number = 0;
        foreach (string line in content.Split('\n')[..^1])
        {
            number++;
            if (matches(line))
            {
                hits.Add(new LogHit(LogHitKind.Line, number, offset, line));
            }
            offset += Encoding.UTF8.GetByteCount(line) + 1;
        }
        return hits;
    }

    [Theory]
    [InlineData(true, 64)] // -F: tiny buffers, so lines straddle every boundary
    [InlineData(false, 64 * 1024)] // regex: the smallest buffer its window overlap allows
    public void Hits_carry_line_numbers_and_offsets_across_buffer_boundaries(bool fixedString, int blockSize)
    {
        string content = Numbered(20_000, i => i % 97 == 0 ? $"{i} ERROR: disk é full on /dev/sd{i % 7}" : $"{i} ok {new string('.', i % 50)}");
        LogSearch search = new(fixedString ? "ERROR: disk" : @"ERROR: d[a-z]+ é", new LogSearchOptions(FixedString: fixedString), true, true, blockSize);

        List<LogHit> hits = [.. search.Search(Log(content))];

        Assert.Equal(Expected(content, line => line.Contains("ERROR", StringComparison.Ordinal)), hits);
    }

    [Fact]
    public void A_regex_without_a_required_literal_finds_the_same_lines()
    {
        string content = Numbered(5000, i => i % 13 == 0 ? $"step {i} timed out" : i % 17 == 0 ? $"connect {i} refused" : $"step {i} ok");
        LogSearch search = new("timed out|refused", new LogSearchOptions(), true, true, 64 * 1024);

        List<LogHit> hits = [.. search.Search(Log(content))];

        Assert.Equal(Expected(content, line => line.Contains("timed out", StringComparison.Ordinal) || line.Contains("refused", StringComparison.Ordinal)), hits);
    }

    [Fact]
    public void A_hit_on_a_last_line_without_newline_is_reported()
    {
        string path = Log("first\nsecond\nthe last one matches");

        LogHit hit = Assert.Single(new LogSearch("matches").Search(path));

        Assert.Equal(new LogHit(LogHitKind.Line, 3, 13, "the last one matches"), hit);
    }

    [Fact]
    public void Ignore_case_folds_letters_for_fixed_strings_and_regexes()
    {
        string path = Log("Connection RESET by peer\nconnection reset by peer\nnothing here\n");

        Assert.Equal(2, new LogSearch("connection reset", new LogSearchOptions(FixedString: true, IgnoreCase: true)).Search(path).Count());
        Assert.Equal(2, new LogSearch("CONNECTION re.et", new LogSearchOptions(IgnoreCase: true)).Search(path).Count());
        Assert.Single(new LogSearch("connection reset", new LogSearchOptions(FixedString: true)).Search(path));
        // A non-ASCII needle folds through the regex engine.
        Assert.Single(new LogSearch("ÉTAT", new LogSearchOptions(FixedString: true, IgnoreCase: true)).Search(Log("état nominal\n")));
    }

    [Fact]
    public void A_fixed_string_is_not_read_as_a_regex()
    {
        string path = Log("a.c\nabc\n(x)\n");

        Assert.Equal(["a.c"], new LogSearch("a.c", new LogSearchOptions(FixedString: true)).Search(path).Select(h => h.Text));
        Assert.Equal(["a.c", "abc"], new LogSearch("a.c").Search(path).Select(h => h.Text));
        Assert.Equal(["(x)"], new LogSearch("(x)", new LogSearchOptions(FixedString: true)).Search(path).Select(h => h.Text));
    }

    [Fact]
    public void Files_with_matches_stops_at_the_first_hit_and_reads_no_further()
    {
        string path = Log(Numbered(10_000, i => $"match {i}"));
        LogSearch search = new("match", new LogSearchOptions(FilesWithMatches: true), true, true, 4096);

        using IEnumerator<LogHit> hits = search.Search(path).GetEnumerator();
        Assert.True(hits.MoveNext());
        File.WriteAllText(path, ""); // a search that read on would find the log truncated under it

        Assert.Equal(1, hits.Current.LineNumber);
        Assert.False(hits.MoveNext());
    }

    [Fact]
    public void Max_hits_caps_the_hits()
    {
        string path = Log(Numbered(100, i => $"match {i}"));

        Assert.Equal([1L, 2L, 3L], new LogSearch("match", new LogSearchOptions(MaxHits: 3)).Search(path).Select(h => h.LineNumber));
        Assert.Empty(new LogSearch("match", new LogSearchOptions(MaxHits: 0)).Search(path));
    }

    [Fact]
    public void A_log_holding_a_nul_byte_reports_one_binary_file_hit()
    {
        byte[] content = [.. "header\n"u8, 0x00, 0x01, .. "\nError here\nError again\n"u8];

        LogHit hit = Assert.Single(new LogSearch("Error").Search(Log(content)));

        Assert.Equal(LogHitKind.BinaryFile, hit.Kind);
        Assert.Equal(3, hit.LineNumber);
        Assert.Equal("", hit.Text);
        Assert.Empty(new LogSearch("absent").Search(Log(content)));
    }

    [Fact]
    public void Lines_before_the_buffer_that_turns_binary_are_reported_as_lines_as_gnu_grep_does()
    {
        byte[] content = [.. Encoding.UTF8.GetBytes("Error early\n" + Numbered(200, i => $"filler {i}")), 0x00, .. "\nError late\nError later\n"u8];
        LogSearch search = new("Error", new LogSearchOptions(), true, true, 1024);

        List<LogHit> hits = [.. search.Search(Log(content))];

        Assert.Equal([LogHitKind.Line, LogHitKind.BinaryFile], hits.Select(h => h.Kind));
        Assert.Equal("Error early", hits[0].Text);
    }

    [Fact]
    public void A_huge_single_line_is_searched_in_bounded_memory_and_shown_cut_around_the_match()
    {
        const int Size = 32 * 1024 * 1024;
        byte[] content = new byte[Size + 100];
        content.AsSpan(0, Size).Fill((byte)'x');
        "NEEDLE"u8.CopyTo(content.AsSpan(Size - 1000));
        "\nafter NEEDLE\n"u8.CopyTo(content.AsSpan(Size));
        string path = Log(content.AsSpan(0, Size + 14).ToArray());
        LogSearch search = new("NEEDLE", new LogSearchOptions(MaxLineBytes: 200));
        _ = search.Search(Log("warm NEEDLE\n")).ToList(); // the pooled buffers and the JIT are not this search's cost

        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        List<LogHit> hits = [.. search.Search(path)];
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.Equal([1L, 2L], hits.Select(h => h.LineNumber));
        Assert.True(hits[0].Cut);
        Assert.Contains("NEEDLE", hits[0].Text, StringComparison.Ordinal);
        Assert.StartsWith(LineText.Marker, hits[0].Text, StringComparison.Ordinal);
        Assert.InRange(Encoding.UTF8.GetByteCount(hits[0].Text), 100, 200 + 2 * 3);
        Assert.Equal(new LogHit(LogHitKind.Line, 2, Size + 1, "after NEEDLE"), hits[1]);
        Assert.InRange(allocated, 0, 4 * 1024 * 1024);
    }

    [Theory]
    [InlineData("^a", "b", "")] // a window of the long line starting with 'a' is not the line's start
    [InlineData("a$", "", "b")] // nor is a window ending with 'a' the line's end
    public void Anchors_do_not_match_at_the_seams_of_a_line_longer_than_the_buffer(string pattern, string before, string after)
    {
        string path = Log(before + new string('a', 3 * 1024 * 1024) + after + "\n");

        Assert.Empty(new LogSearch(pattern).Search(path));
        Assert.Single(new LogSearch(pattern.Replace("a", "a+", StringComparison.Ordinal).Replace("^", "", StringComparison.Ordinal).Replace("$", "", StringComparison.Ordinal)).Search(path));
    }

    [Fact]
    public void A_match_across_the_seam_of_two_windows_of_a_long_line_is_found()
    {
        byte[] content = new byte[1024 * 1024 + 1];
        content.AsSpan().Fill((byte)'-');
        content[^1] = (byte)'\n';
        "seam-crossing-match"u8.CopyTo(content.AsSpan(LogSearch.DefaultBlockSize - 8)); // straddles the first window's end
        string path = Log(content);

        Assert.Single(new LogSearch("seam-crossing-match", new LogSearchOptions(FixedString: true)).Search(path));
        Assert.Single(new LogSearch("seam-cros+ing-[a-z]+").Search(path));
    }

    [Fact]
    public void Invalid_utf8_is_replaced_and_control_characters_are_left_to_the_display()
    {
        string path = Log([0xFF, .. "\u001b[31mERROR\u001b[0m\ttab"u8, 0x0A]);

        LogHit hit = Assert.Single(new LogSearch("ERROR").Search(path));

        Assert.Equal("\uFFFD\u001b[31mERROR\u001b[0m\ttab", hit.Text);
    }

    [Fact]
    public void An_invalid_regex_is_a_pattern_error_naming_it()
    {
        LogPatternException error = Assert.Throws<LogPatternException>(() => new LogSearch("timeout (after"));

        Assert.Equal("timeout (after", error.Pattern);
        Assert.Equal("invalid regular expression 'timeout (after': Not enough )'s (at offset 14)", error.Message);
        Assert.Throws<LogPatternException>(() => new LogSearch("two\nlines", new LogSearchOptions(FixedString: true)));
    }

    [Fact]
    public void A_pattern_the_linear_engine_cannot_run_still_works_on_the_backtracking_one()
    {
        string path = Log("abab\nabba\n");

        Assert.Equal(["abab"], new LogSearch(@"(ab)\1").Search(path).Select(h => h.Text));
    }

    [Fact]
    public void A_missing_log_is_gone()
    {
        LogGoneException error = Assert.Throws<LogGoneException>(() => new LogSearch("x").Search(_dir.Combine("runs", "abc", "output.log")).ToList());

        Assert.Equal(_dir.Combine("runs", "abc", "output.log"), error.LogPath);
    }

    [Fact]
    public void A_log_deleted_under_a_search_is_searched_to_its_end()
    {
        string path = Log(Numbered(5000, i => $"match {i}"));
        using IEnumerator<LogHit> hits = new LogSearch("match", new LogSearchOptions(), true, true, 4096).Search(path).GetEnumerator();
        Assert.True(hits.MoveNext());

        File.Delete(path);
        int count = 1;
        while (hits.MoveNext())
        {
            count++;
        }

        Assert.Equal(5000, count);
    }

    [Fact]
    public void A_log_truncated_under_a_search_is_gone()
    {
        string path = Log(Numbered(5000, i => $"match {i}"));
        using IEnumerator<LogHit> hits = new LogSearch("match", new LogSearchOptions(), true, true, 4096).Search(path).GetEnumerator();
        Assert.True(hits.MoveNext());

        File.WriteAllText(path, "match 1\n");

        Assert.Throws<LogGoneException>(() => { while (hits.MoveNext()) { } });
    }

    [Fact]
    public void A_cancelled_search_stops_between_buffers()
    {
        string path = Log(Numbered(5000, i => $"match {i}"));
        using CancellationTokenSource cancel = new();
        using IEnumerator<LogHit> hits = new LogSearch("match", new LogSearchOptions(), true, true, 4096).Search(path, cancel.Token).GetEnumerator();
        Assert.True(hits.MoveNext());

        cancel.Cancel();

        Assert.Throws<OperationCanceledException>(() => { while (hits.MoveNext()) { } });
    }

    [Theory]
    [InlineData(@"reset by peer \(errno [0-9]+\)", "reset by peer (errno ")]
    [InlineData(@"ERROR.*timeout after \d+ms", "timeout after ")]
    [InlineData("foo+barbaz", "barbaz")]
    [InlineData("[abc]defg(x|y)", "defg")]
    [InlineData("colou?r mismatch", "r mismatch")]
    [InlineData("ab{0,3}cdef", "cdef")]
    [InlineData("timed out|refused", null)] // either alternative may match alone
    [InlineData("(?i)error", null)] // inline options could change what the literal means
    [InlineData(@"\d+ms", null)] // too short to be worth a prefilter
    public void The_required_literal_of_a_regex_is_only_what_every_match_holds(string pattern, string? literal)
    {
        Assert.Equal(literal, RequiredLiteral.Of(pattern));
    }

    [Fact]
    public void The_case_folding_finder_finds_what_a_naive_search_finds()
    {
        Random random = new(3);
        const string Alphabet = "abcAB@`[{ \n0";
        for (int round = 0; round < 3000; round++)
        {
            string needle = new([.. Enumerable.Range(0, random.Next(1, 6)).Select(_ => Alphabet[random.Next(Alphabet.Length)])]);
            string haystack = new([.. Enumerable.Range(0, random.Next(0, 100)).Select(_ => Alphabet[random.Next(Alphabet.Length)])]);

            int found = new AsciiFoldedFinder(Encoding.ASCII.GetBytes(needle)).IndexOf(Encoding.ASCII.GetBytes(haystack));

            Assert.Equal(haystack.IndexOf(needle, StringComparison.OrdinalIgnoreCase), found);
        }
    }

    [Fact]
    public void Top_level_alternatives_each_give_a_literal_or_none_is_used()
    {
        Assert.Equal(["timed out", "refused"], RequiredLiteral.AnyOf("timed out|refused"));
        Assert.Equal(["abc"], RequiredLiteral.AnyOf("x(y|z)abc"));
        Assert.Null(RequiredLiteral.AnyOf("timed out|[0-9]+"));
        Assert.Null(RequiredLiteral.AnyOf("a|b"));
    }

    [Fact]
    public void A_hit_in_json_is_snake_case_with_its_kind_as_a_string()
    {
        string json = JsonSerializer.Serialize(new LogHit(LogHitKind.BinaryFile, 3, 120, ""), LogJson.Default.LogHit);

        Assert.Contains("\"kind\": \"binary_file\"", json, StringComparison.Ordinal);
        Assert.Contains("\"line_number\": 3", json, StringComparison.Ordinal);
    }
}
