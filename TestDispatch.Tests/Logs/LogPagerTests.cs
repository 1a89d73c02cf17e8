using System.IO.Abstractions.TestingHelpers;
using System.Text;
using TestDispatch.Engine.Logs;

namespace TestDispatch.Tests.Logs;

[Trait("Category", "Unit")]
public class LogPagerTests
{
    private static LogPager Pager(string content)
    {
        MockFileSystem fs = new();
        fs.AddFile("/log", new MockFileData(Encoding.UTF8.GetBytes(content)));
        return new LogPager(fs, "/log");
    }

    private static string Numbered(int count) => string.Concat(Enumerable.Range(1, count).Select(i => $"line {i}\n"));

    [Fact]
    public void Reads_lines_from_an_offset_and_says_where_the_next_starts()
    {
        using LogPager pager = Pager("a\nbb\nccc");

        IReadOnlyList<LogLine> lines = pager.ReadLines(2, 10);

        Assert.Equal(["bb", "ccc"], lines.Select(l => l.Text));
        Assert.Equal([2L, 5L], lines.Select(l => l.Offset));
        Assert.Equal(8, lines[^1].NextOffset);
    }

    [Fact]
    public void Goes_back_lines_from_a_line_start()
    {
        using LogPager pager = Pager(Numbered(10));
        long line5 = pager.ReadLines(0, 5)[^1].Offset;

        Assert.Equal("line 2", pager.ReadLines(pager.LineStartBefore(line5, 3), 1)[0].Text);
        Assert.Equal(0, pager.LineStartBefore(line5, 50));
    }

    [Fact]
    public void The_tail_is_the_last_lines_whatever_the_final_newline()
    {
        Assert.Equal(["line 9", "line 10"], Tail(Numbered(10), 2));
        Assert.Equal(["line 10", "partial"], Tail(Numbered(10) + "partial", 2));
        Assert.Equal(["only"], Tail("only\n", 5));
        Assert.Empty(Tail("", 3));

        static IEnumerable<string> Tail(string content, int n)
        {
            using LogPager pager = Pager(content);
            return [.. pager.ReadLines(pager.TailStart(n), n).Select(l => l.Text)];
        }
    }

    [Fact]
    public void A_line_longer_than_the_screen_is_cut_and_the_next_line_still_found()
    {
        using LogPager pager = Pager(new string('x', 300_000) + "\nafter\n");

        IReadOnlyList<LogLine> lines = pager.ReadLines(0, 2, maxLineBytes: 100);

        Assert.Equal(100, lines[0].Text.Length);
        Assert.Equal("after", lines[1].Text);
    }

    /// <summary>
    /// Enter on a failed case searches the log from its start: a message on the log's first line was passed over (the
    /// search starts after the line it is at), and the app said "not in the log" (flaky in CI as the tmux test).
    /// </summary>
    [Fact]
    public void A_search_from_its_line_finds_a_hit_on_that_line_even_the_first()
    {
        using LogPager pager = Pager("E  AssertionError: sensor out of range\nmore\nAssertionError again\n");

        Assert.Equal(0, pager.Find("AssertionError", 0, forward: true, fromItsLine: true));
        Assert.Equal("AssertionError again", pager.ReadLines(pager.Find("AssertionError", 0, forward: true)!.Value, 1)[0].Text);
        Assert.Equal("AssertionError again", pager.ReadLines(pager.Find("again", 5, forward: true, fromItsLine: true)!.Value, 1)[0].Text);
    }

    [Fact]
    public void Search_finds_the_next_and_previous_line_ignoring_ascii_case()
    {
        using LogPager pager = Pager("alpha\nError one\nbeta\nerror two\ngamma\n");

        long first = pager.Find("ERROR", 0, forward: true)!.Value;
        long second = pager.Find("error", first, forward: true)!.Value;
        long back = pager.Find("error", second, forward: false)!.Value;

        Assert.Equal("Error one", pager.ReadLines(first, 1)[0].Text);
        Assert.Equal("error two", pager.ReadLines(second, 1)[0].Text);
        Assert.Equal(first, back);
        Assert.Null(pager.Find("error", second, forward: true));
        Assert.Null(pager.Find("missing", 0, forward: true));
    }

    [Fact]
    public void Invalid_utf8_is_replaced_and_control_bytes_are_left_to_the_face()
    {
        MockFileSystem fs = new();
        fs.AddFile("/log", new MockFileData(new byte[] { 0xff, 0x41, 0x1b, 0x09, 0x42, 0x0a }));
        using LogPager pager = new(fs, "/log");

        string text = pager.ReadLines(0, 1)[0].Text;

        Assert.Equal("\uFFFDA\u001b\tB", text); // the run view shows ESC and the tab (TerminalText.ForScreen)
    }

    [Fact]
    public void A_log_that_does_not_exist_yet_reads_as_empty()
    {
        using LogPager pager = new(new MockFileSystem(), "/none");

        Assert.Empty(pager.ReadLines(0, 5));
        Assert.Equal(0, pager.Length);
    }
}
