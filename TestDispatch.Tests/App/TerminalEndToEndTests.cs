using System.Text.RegularExpressions;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.App;

/// <summary>The built app in a real terminal (tmux), driven by keys like a person would.</summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class TerminalEndToEndTests : IDisposable
{
    private readonly CliHarness _lab = new(defaults: """ "AgentIdle": "5s", "KillGrace": "1s" """);

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Open_see_machines_dispatch_watch_the_log_cancel_and_quit()
    {
        string test = _lab.MakeTest("steady", "i=1; while [ $i -le 600 ]; do echo \"tick $i\"; i=$((i+1)); sleep 0.1; done");
        await using Tmux terminal = new();
        await terminal.StartAsync([.. CliHarness.Program, "--state-dir", _lab.StateDir, "--config", _lab.ConfigFile]);

        await terminal.WaitForAsync("[2 Runs]");
        await terminal.SendKeysAsync("1");
        string machines = await terminal.WaitForAsync(s => s.Contains("[1 Machines]", StringComparison.Ordinal) && s.Contains("local-2", StringComparison.Ordinal), "the machines");
        Assert.Contains("local-1", machines, StringComparison.Ordinal);
        Assert.Contains("local-2", machines, StringComparison.Ordinal);

        await terminal.SendKeysAsync("d");
        await terminal.WaitForAsync("Dispatch a test");
        await terminal.SendKeysAsync("-N", "300", "BSpace");
        await terminal.TypeAsync(test);
        await terminal.SendKeysAsync("Enter");
        string log = await terminal.WaitForAsync(s => s.Contains("tick 3", StringComparison.Ordinal) && s.Contains("RUNNING", StringComparison.Ordinal), "the log of the running test");
        Assert.Contains("follow ON", log, StringComparison.Ordinal);

        await terminal.SendKeysAsync("x");
        await terminal.WaitForAsync("y to confirm");
        await terminal.SendKeysAsync("y");
        string cancelled = await terminal.WaitForAsync("INTERRUPTED");
        Assert.Contains("cancelled", cancelled, StringComparison.Ordinal);

        await terminal.SendKeysAsync("Escape");
        await terminal.WaitForAsync(s => s.Contains("[1 Machines]", StringComparison.Ordinal) && Regex.IsMatch(s, @"local-1\s+idle\s+0\s+I\s"),
            "the machine's last verdict (I: interrupted) in RECENT");
        await terminal.SendKeysAsync("2");
        await terminal.WaitForAsync(s => s.Contains("[2 Runs]", StringComparison.Ordinal) && s.Contains("interrupted", StringComparison.Ordinal), "the cancelled run in Runs");
        await terminal.SendKeysAsync("q");
        await Eventually.True(() => !terminal.IsRunningAsync().GetAwaiter().GetResult(), what: "the app to quit");

        Run run = Assert.Single(_lab.OpenLab(startsAgents: false).Runs(RunFilter.All));
        Assert.Equal((RunStatus.Interrupted, test), (run.Status, run.TestDir));
    }

    [Fact]
    public async Task The_list_is_drawn_whole_after_the_run_view_closes_and_after_resizes()
    {
        Lab lab = _lab.OpenLab();
        List<string> ids = [];
        foreach (string name in new[] { "first", "second", "third" })
        {
            Run run = (await lab.DispatchAsync(_lab.MakeTest(name, "echo done"), "local-1")).Run;
            await lab.WaitAsync(run.Id);
            ids.Add(run.Id);
        }
        await using Tmux terminal = new();
        await terminal.StartAsync([.. CliHarness.Program, "--state-dir", _lab.StateDir, "--config", _lab.ConfigFile], width: 100, height: 30);
        await terminal.WaitForAsync(s => ids.All(id => s.Contains(id, StringComparison.Ordinal)), "the three runs");

        await terminal.SendKeysAsync("Enter");
        await terminal.WaitForAsync("ended");
        await terminal.SendKeysAsync("Escape");
        string back = await terminal.WaitForAsync(s => s.Contains("[2 Runs]", StringComparison.Ordinal) && ids.All(id => s.Contains(id, StringComparison.Ordinal)), "the list again");
        Assert.DoesNotContain("ended", back, StringComparison.Ordinal); // nothing of the run view is left behind
        AssertFramed(back, 100, 30);

        foreach ((int width, int height) in new[] { (80, 24), (132, 40) })
        {
            await terminal.ResizeAsync(width, height);
            string resized = await terminal.WaitForAsync(s => Framed(s, width, height) && ids.All(id => s.Contains(id, StringComparison.Ordinal)), $"the list framed at {width}x{height}");
            Assert.Matches(@"ID\s+MACHINE\s+STATUS", resized);
        }

        // Something else writes to the terminal: it stays (only changed lines are drawn) until Ctrl+L repaints.
        await terminal.WriteToTerminalAsync("\u001b[5;5HSTRAY-OUTPUT");
        await terminal.WaitForAsync("STRAY-OUTPUT");
        await terminal.SendKeysAsync("C-l");
        await terminal.WaitForAsync(s => !s.Contains("STRAY-OUTPUT", StringComparison.Ordinal) && Framed(s, 132, 40), "the screen repainted whole");
    }

    /// <summary>Every line of the window is whole: it starts and ends with the border, at the terminal's width.</summary>
    private static bool Framed(string screen, int width, int height)
    {
        string[] lines = screen.TrimEnd('\n').Split('\n');
        return lines.Length == height && lines.Skip(1).Take(height - 2).All(l => l.Length == width && l[0] == '│' && l[^1] == '│');
    }

    private static void AssertFramed(string screen, int width, int height) =>
        Assert.True(Framed(screen, width, height), $"the screen is not a whole {width}x{height} window:\n{screen}");

    [Fact]
    public async Task A_run_keeps_going_after_the_app_quits()
    {
        string release = _lab.Combine("release");
        string test = _lab.MakeTest("outlives", $"while [ ! -e '{release}' ]; do sleep 0.05; done; echo released");
        Lab lab = _lab.OpenLab();
        Run run = (await lab.DispatchAsync(test, "local-2")).Run;
        await using (Tmux terminal = new())
        {
            await terminal.StartAsync([.. CliHarness.Program, "--state-dir", _lab.StateDir, "--config", _lab.ConfigFile]);
            await terminal.WaitForAsync(run.Id);
            await terminal.SendKeysAsync("q");
            await Eventually.True(() => !terminal.IsRunningAsync().GetAwaiter().GetResult(), what: "the app to quit");
        }

        Assert.Equal(RunStatus.Running, lab.Store.Get(run.Id).Run.Status);
        await File.WriteAllTextAsync(release, "");
        Run ended = await lab.WaitAsync(run.Id);
        Assert.Equal(RunStatus.Completed, ended.Status);
    }

    [Fact]
    public async Task Losing_the_terminal_stops_the_app_cleanly_and_the_run_goes_on()
    {
        string release = _lab.Combine("release");
        string test = _lab.MakeTest("hangup", $"echo waiting; while [ ! -e '{release}' ]; do sleep 0.05; done; echo released");
        Lab lab = _lab.OpenLab();
        Run run = (await lab.DispatchAsync(test, "local-1")).Run;
        await using Tmux terminal = new();
        await terminal.StartAsync([.. CliHarness.Program, "--state-dir", _lab.StateDir, "--config", _lab.ConfigFile]);
        await terminal.WaitForAsync(run.Id);
        await terminal.SendKeysAsync("Enter");
        await terminal.WaitForAsync("waiting");
        int app = await terminal.PanePidAsync();

        await terminal.HangUpAsync();

        await Eventually.True(() => !File.Exists($"/proc/{app}/stat") || File.ReadAllText($"/proc/{app}/stat").Contains(") Z", StringComparison.Ordinal),
            what: "the app to exit on SIGHUP");
        Assert.Equal(RunStatus.Running, lab.Store.Get(run.Id).Run.Status);
        await File.WriteAllTextAsync(release, "");
        Assert.Equal(RunStatus.Completed, (await lab.WaitAsync(run.Id)).Status);
    }
    /// <summary>
    /// Found by the suite's own leftovers: the main loop could end on the hang-up before the SIGHUP handler ran, and the app
    /// then waited for ever in Terminal.Gui's dispose (its input thread spinning on the dead tty), kept alive by nothing.
    /// Hung up at several moments after the screen is drawn, in a run's view and its test cases, it leaves every time.
    /// </summary>
    [Fact]
    public async Task Losing_the_terminal_at_any_moment_ends_the_app_every_time()
    {
        Lab lab = _lab.OpenLab();
        Run run = await lab.WaitAsync((await lab.DispatchAsync(_lab.MakeTest("quick", "echo done"), "local-1")).Run.Id);
        List<string> left = [];
        for (int round = 0; round < 6; round++)
        {
            await using Tmux terminal = new();
            await terminal.StartAsync([.. CliHarness.Program, "--state-dir", _lab.StateDir, "--config", _lab.ConfigFile], width: 80, height: 24);
            await terminal.WaitForAsync(run.Id);
            if (round % 2 == 1)
            {
                await terminal.SendKeysAsync("Enter");
                await terminal.WaitForAsync("done");
            }
            int app = await terminal.PanePidAsync();
            await Task.Delay(100 * round);

            await terminal.HangUpAsync();

            try
            {
                await Eventually.True(() => !File.Exists($"/proc/{app}/stat") || File.ReadAllText($"/proc/{app}/stat").Contains(") Z", StringComparison.Ordinal),
                    TimeSpan.FromSeconds(15), what: "the app to exit on SIGHUP");
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                left.Add($"round {round}: pid {app}");
                Engine.IO.Libc.Kill(app, Engine.IO.Libc.SIGKILL);
            }
        }

        Assert.Empty(left);
    }
}
