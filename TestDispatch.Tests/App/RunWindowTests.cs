using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using TestDispatch.Tui.Text;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class RunWindowTests : IDisposable
{
    private readonly CliHarness _lab = new();
    private readonly HeadlessApp _ui = new(100, 24);
    private readonly Lab _engine;
    private readonly Run _run;

    public RunWindowTests()
    {
        _engine = _lab.OpenLab(startsAgents: false);
        _run = _engine.Store.Update(_engine.Store.Prepare(Request(machine: "local-1")).Run.Id, Running).Run;
        Directory.CreateDirectory(Path.GetDirectoryName(_run.LogsPath)!);
    }

    public void Dispose()
    {
        _ui.Dispose();
        _lab.Dispose();
    }

    private void Log(string lines) => File.AppendAllText(_run.LogsPath, lines);

    [Fact]
    public void Shows_the_run_fields_and_follows_lines_appended_to_its_log()
    {
        Log("first line\n");
        using RunWindow window = new(_ui.App, _engine, _run.Id);
        _ui.Show(window);
        string before = _ui.WaitFor("first line");

        Log(string.Concat(Enumerable.Range(1, 200).Select(i => $"appended {i}\n")));
        string after = _ui.WaitFor("appended 200");

        Assert.Contains("RUNNING", before, StringComparison.Ordinal);
        Assert.Contains(_run.TestDir, before, StringComparison.Ordinal);
        Assert.Contains("follow ON", after, StringComparison.Ordinal);
        Assert.DoesNotContain("first line", after, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrolling_up_pauses_follow_and_G_resumes_it()
    {
        Log(string.Concat(Enumerable.Range(1, 100).Select(i => $"line {i}\n")));
        using RunWindow window = new(_ui.App, _engine, _run.Id);
        _ui.Show(window);
        _ui.WaitFor("line 100");

        _ui.Press(new Key('g'));
        // "line 1" as a whole line: "│line 1" alone would also match "│line 100" on the tail still on screen.
        string top = _ui.WaitFor(s => System.Text.RegularExpressions.Regex.IsMatch(s, @"(?m)(^|│)line 1\s"), "the first line");
        Log("line 101\n");
        string paused = _ui.WaitFor("follow off");
        _ui.Press(new Key('G'));
        string resumed = _ui.WaitFor("line 101");

        Assert.DoesNotContain("line 100", top, StringComparison.Ordinal);
        Assert.DoesNotContain("line 101", paused, StringComparison.Ordinal);
        Assert.Contains("follow ON", resumed, StringComparison.Ordinal);
    }

    [Fact]
    public void Slash_searches_the_log_and_n_goes_to_the_next_hit()
    {
        Log(string.Concat(Enumerable.Range(1, 300).Select(i => i is 120 or 250 ? $"ERROR number {i}\n" : $"ok {i}\n")));
        using RunWindow window = new(_ui.App, _engine, _run.Id);
        _ui.Show(window);
        _ui.WaitFor("ok 300");
        _ui.Press(new Key('g'));
        _ui.WaitFor("follow off");

        _ui.Press(new Key('/'));
        _ui.Type("error");
        _ui.Press(Key.Enter);
        string first = _ui.WaitFor("ERROR number 120");
        _ui.Press(new Key('n'));
        string second = _ui.WaitFor(s => s.Contains("ERROR number 250", StringComparison.Ordinal) && !s.Contains("ERROR number 120", StringComparison.Ordinal), "the second hit");

        Assert.Contains("search: error", first, StringComparison.Ordinal);
        Assert.Contains("search: error", second, StringComparison.Ordinal);
    }

    [Fact]
    public void W_toggles_wrap_of_long_lines()
    {
        Log(new string('a', 150) + "END\n");
        using RunWindow window = new(_ui.App, _engine, _run.Id);
        _ui.Show(window);
        string cut = _ui.WaitFor("aaaa");

        _ui.Press(new Key('w'));
        string wrapped = _ui.WaitFor("aEND");

        Assert.DoesNotContain("END", cut, StringComparison.Ordinal);
        Assert.Contains("wrap ON", wrapped, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(40, 15)]
    [InlineData(80, 24)]
    public void A_log_of_binary_output_never_reaches_the_terminal_as_control_sequences_nor_breaks_the_frame(int width, int height)
    {
        Random bytes = new(31);
        byte[] noise = new byte[4096];
        bytes.NextBytes(noise);
        using (FileStream log = File.OpenWrite(_run.LogsPath))
        {
            log.Write(System.Text.Encoding.UTF8.GetBytes("\u001b[2J\u001b(0lqqk\u001b]0;pwned\u0007 CSI\u009b2J tab\there テスト e\u0301 \u202Eevil\n"));
            log.Write(noise);
            log.Write("\nEND OF NOISE\n"u8);
        }
        using HeadlessApp ui = new(width, height);
        using RunWindow window = new(ui.App, _engine, _run.Id);
        ui.Show(window);
        ui.Press(new Key('g'));
        string screen = ui.WaitFor("␛[2J");

        Assert.Contains("␛(0lqqk␛]0;pwned␇", screen, StringComparison.Ordinal);
        Cell[,] cells = ui.App.Driver!.Contents!;
        for (int row = 0; row < cells.GetLength(0); row++)
        {
            for (int col = 0; col < cells.GetLength(1); col++)
            {
                string grapheme = cells[row, col].Grapheme ?? "";
                Assert.False(grapheme.Any(c => c < ' ' || c is >= '\u007f' and < '\u00a0' or >= '\u202a' and <= '\u202e'),
                    $"cell {row},{col} holds a control character: {string.Join(" ", grapheme.Select(c => ((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)))}");
            }
        }
        string[] lines = screen.Split('\n');
        Assert.All(lines.Where(l => l.Length > 0 && l[0] == '│'), l => Assert.Equal('│', l.TrimEnd()[^1])); // the frame stands on every line
        Assert.All(lines.Where(l => l.Length > 0 && l[0] == '│'), l => Assert.Equal(width, TerminalText.Width(l.TrimEnd())));
    }

    [Fact]
    public void After_a_cancel_the_message_and_the_strip_say_how_the_run_ended_not_stopping_and_follow_ON()
    {
        Log("working\n");
        using RunWindow window = new(_ui.App, _engine, _run.Id);
        _ui.Show(window);
        _ui.WaitFor("follow ON");

        _ui.Press(new Key('x'), new Key('y'));
        _ui.WaitFor("stopping");
        _engine.Store.Update(_run.Id, r => Finished(r, RunStatus.Interrupted, 143) is var ended ? ended with { Run = ended.Run with { ErrorCode = "interrupted" } } : r);
        string ended = _ui.WaitFor(s => s.Contains("ended interrupted", StringComparison.Ordinal), "the message to say how it ended");

        Assert.DoesNotContain("stopping", ended, StringComparison.Ordinal);
        Assert.DoesNotContain("follow ON", ended, StringComparison.Ordinal);
        Assert.Contains("run ended", ended, StringComparison.Ordinal);
    }
}
