using TestDispatch.Tests.Support;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tests.Commands;

/// <summary>Text from outside made safe for a terminal (issue 31, items 7, 8 and 10), and the command a hint names.</summary>
[Trait("Category", "Unit")]
public sealed class TerminalTextTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("two\nlines", @"two\nlines")]
    [InlineData("tab\there\r", @"tab\there\r")]
    [InlineData("\u001b[2Jclear", @"\x1b[2Jclear")]
    [InlineData("csi\u009b2J", @"csi\u009b2J")]
    [InlineData("\u202Eevil", @"\u202eevil")]
    [InlineData("caf\u00e9 テスト", "caf\u00e9 テスト")]
    public void A_cell_is_one_line_that_steers_nothing(string text, string escaped) => Assert.Equal(escaped, TerminalText.Escape(text));

    [Theory]
    [InlineData("a\tb", "a       b")] // to the next 8-column stop
    [InlineData("\u001b[1mbold\u001b[0m", "␛[1mbold␛[0m")]
    [InlineData("nul\0del\u007f", "nul␀del␡")]
    [InlineData("c1\u0085 bidi\u202E zw\u200B", "c1\uFFFD bidi\uFFFD zw\uFFFD")]
    [InlineData("\u0301alone", "\u25CC\u0301alone")] // a combining mark with nothing to sit on
    [InlineData("e\u0301", "e\u0301")]
    [InlineData("テ\tx", "テ      x")] // a wide character takes two columns before the tab
    [InlineData("\U0001F468\u200D\U0001F469", "\U0001F468")] // an emoji sequence keeps its first
    public void A_log_line_for_the_screen_shows_controls_as_pictures_and_nothing_measured_two_ways(string line, string shown) =>
        Assert.Equal(shown, TerminalText.ForScreen(line));

    [Fact]
    public void Pieces_never_split_a_wide_character_and_fit_their_columns()
    {
        Assert.Equal(["ab", "テ", "スc"], TerminalText.Pieces("abテスc", 3, wrap: true));
        Assert.Equal(["abテ"], TerminalText.Pieces("abテスc", 5, wrap: false));
        Assert.All(TerminalText.Pieces("xテストテストテスト", 4, wrap: true), p => Assert.True(TerminalText.Width(p) <= 4, p));
    }

    [Fact]
    public void A_hint_names_testdispatch_only_when_that_name_on_path_is_this_program()
    {
        using TempDir dir = new();
        string binary = dir.Combine("lib", "testdispatch");
        Directory.CreateDirectory(dir.Combine("lib"));
        Directory.CreateDirectory(dir.Combine("bin"));
        File.WriteAllText(binary, "");
        File.CreateSymbolicLink(dir.Combine("bin", "testdispatch"), binary);

        Assert.Equal("testdispatch", Invocation.For(binary, ["testdispatch"], "/", $"/nowhere:{dir.Combine("bin")}"));
        Assert.Equal(binary, Invocation.For(binary, ["testdispatch"], "/somewhere/else", "/usr/bin"));
        Assert.Equal("lib/testdispatch", Invocation.For(binary, ["testdispatch"], dir.Path, "/usr/bin"));
        Assert.Equal("dotnet lib/testdispatch.dll", Invocation.For("/usr/share/dotnet/dotnet", [dir.Combine("lib", "testdispatch.dll")], dir.Path, "/usr/bin"));
    }
}
