using Terminal.Gui.Input;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

/// <summary>The app's looking back, headless: a run's diff against the last pass (D), and the search of every log (S).</summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class LogsLookbackViewsTests : IDisposable
{
    private readonly CliHarness _lab = new();
    private readonly HeadlessApp _ui = new(120, 24);
    private readonly Lab _engine;

    public LogsLookbackViewsTests()
    {
        _engine = _lab.OpenLab(startsAgents: false);
    }

    public void Dispose()
    {
        _ui.Dispose();
        _lab.Dispose();
    }

    /// <summary>An ended run of <paramref name="test"/> on local-1 whose log is <paramref name="log"/>.</summary>
    private Run Ended(string test, RunStatus status, string log, string machine = "local-1")
    {
        Run run = _engine.Store.Prepare(Request(machine: machine, hash: Guid.NewGuid().ToString(), testDir: $"/tests/{test}")).Run;
        Directory.CreateDirectory(Path.GetDirectoryName(run.LogsPath)!);
        File.WriteAllText(run.LogsPath, log);
        return _engine.Store.Update(run.Id, r => Finished(Running(r), status, status == RunStatus.Completed ? 0 : 1)).Run;
    }

    [Fact]
    public void D_shows_only_the_line_that_changed_since_the_last_pass()
    {
        Run passed = Ended("power", RunStatus.Completed, "2026-12-07T10:00:00Z start pid=1234 in /tmp/tmp.AbCdEf\nrail 3: ok\ndone\n");
        Run failed = Ended("power", RunStatus.Failed, "2026-12-07T11:22:33Z start pid=9876 in /tmp/tmp.XyZwVu\nrail 3: 3350 mV\ndone\n");
        using DiffWindow window = new(_ui.App, _engine, failed.Id, new Theme(true));
        _ui.Show(window);

        string screen = _ui.WaitFor(s => s.Contains("+rail 3: 3350 mV", StringComparison.Ordinal) && s.Contains("lines against run", StringComparison.Ordinal),
            "the diff and what it found");

        Assert.Contains("-rail 3: ok", screen, StringComparison.Ordinal);
        Assert.Contains($"--- {passed.Id} (local-1, completed", screen, StringComparison.Ordinal);
        Assert.Contains($"-1 +1 lines against run {passed.Id}", screen, StringComparison.Ordinal);
        // The first line differs only in volatile tokens: context (A's text), neither removed nor added.
        Assert.Contains(" 2026-12-07T10:00:00Z start pid=1234", screen, StringComparison.Ordinal);
        Assert.DoesNotContain("-2026-12-07", screen, StringComparison.Ordinal);
        Assert.DoesNotContain("+2026-12-07", screen, StringComparison.Ordinal);
    }

    [Fact]
    public void D_says_so_when_no_earlier_run_passed()
    {
        Run failed = Ended("power", RunStatus.Failed, "rail 3: 3350 mV\n");
        using DiffWindow window = new(_ui.App, _engine, failed.Id, new Theme(true));
        _ui.Show(window);

        _ui.WaitFor("no_passing_run: no run of /tests/power passed before run");
    }

    [Fact]
    public void S_finds_hits_in_every_log_newest_run_first_and_enter_opens_the_run_at_the_line()
    {
        Run older = Ended("net", RunStatus.Completed, "boot\nConnection reset by peer\n");
        Run newer = Ended("net", RunStatus.Failed, "boot\nsetup\nread failed: connection RESET by peer\n");
        Ended("net", RunStatus.Completed, "boot\nall good\n");
        List<(string Run, long Offset, string Mark)> opened = [];
        using SearchWindow window = new(_ui.App, _engine, new Theme(true), (run, offset, mark) => opened.Add((run, offset, mark)));
        _ui.Show(window);

        _ui.Type("reset by peer");
        _ui.Press(Key.Enter);
        string screen = _ui.WaitFor("2 hits in 2 runs");
        _ui.Press(Key.Enter);

        Assert.True(screen.IndexOf(newer.Id, StringComparison.Ordinal) < screen.IndexOf(older.Id, StringComparison.Ordinal), screen);
        Assert.Contains("read failed: connection RESET by peer", screen, StringComparison.Ordinal); // lower case: any case
        Assert.Equal([(newer.Id, (long)"boot\nsetup\n".Length, "reset by peer")], opened);
    }

    /// <summary>S once searched every log whatever the Runs tab showed; it searches the runs the tab's filter lets through.</summary>
    [Fact]
    public void S_searches_only_the_runs_the_runs_tab_filter_lets_through()
    {
        Ended("net", RunStatus.Failed, "Connection reset by peer\n", machine: "local-1");
        Run two = Ended("net", RunStatus.Failed, "Connection reset by peer\n", machine: "local-2");
        Ended("power", RunStatus.Failed, "Connection reset by peer\n", machine: "local-2");
        using SearchWindow window = new(_ui.App, _engine, new Theme(true), (_, _, _) => { }, new RunFilter(Machine: "local-2", Text: "net", Limit: 1000));
        _ui.Show(window);

        _ui.Type("reset by peer");
        _ui.Press(Key.Enter);
        string screen = _ui.WaitFor($"1 hit, in run {two.Id}");

        Assert.Contains("search the logs of local-2 matching 'net':", screen, StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_opened_at_a_hit_shows_that_line_on_top_with_follow_off()
    {
        Run run = Ended("long", RunStatus.Failed, string.Concat(Enumerable.Range(1, 500).Select(i => $"line {i}\n")));
        long offset = string.Concat(Enumerable.Range(1, 249).Select(i => $"line {i}\n")).Length;
        using RunWindow window = new(_ui.App, _engine, run.Id, (offset, "line 250"));
        _ui.Show(window);

        string screen = _ui.WaitFor("line 251");

        Assert.Matches(@"(?m)(^|│)line 250\s", screen);
        Assert.DoesNotContain("line 249", screen, StringComparison.Ordinal);
        Assert.DoesNotContain("line 500", screen, StringComparison.Ordinal);
        Assert.Contains("search: line 250", screen, StringComparison.Ordinal);
    }
}
