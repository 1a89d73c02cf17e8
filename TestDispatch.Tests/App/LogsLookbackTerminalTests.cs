using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.App;

/// <summary>The built app in tmux: S searches every log, Enter opens the hit's run at its line, D diffs it against the last pass.</summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class LogsLookbackTerminalTests : IDisposable
{
    private readonly CliHarness _lab = new(defaults: """ "AgentIdle": "5s", "KillGrace": "1s" """);

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Search_every_log_open_the_failing_hit_and_diff_it_against_the_last_pass()
    {
        string verdict = _lab.Combine("verdict");
        string test = _lab.MakeTest("power", $"echo \"start $(date) pid=$$\"\necho \"rail 3: $(cat '{verdict}')\"\n[ \"$(cat '{verdict}')\" = ok ]");
        Lab lab = _lab.OpenLab();
        List<Run> runs = [];
        foreach (string outcome in new[] { "ok", "3350 mV" })
        {
            await File.WriteAllTextAsync(verdict, outcome);
            runs.Add(await lab.WaitAsync((await lab.DispatchAsync(test, "local-1")).Run.Id));
        }
        await using Tmux terminal = new();
        await terminal.StartAsync([.. CliHarness.Program, "--state-dir", _lab.StateDir, "--config", _lab.ConfigFile], width: 120, height: 30);
        await terminal.WaitForAsync(runs[1].Id);

        await terminal.SendKeysAsync("S");
        await terminal.WaitForAsync("search every log:");
        await terminal.TypeAsync("rail 3");
        await terminal.SendKeysAsync("Enter");
        string hits = await terminal.WaitForAsync("2 hits in 2 runs");
        await terminal.SendKeysAsync("Enter");
        string run = await terminal.WaitForAsync($"Run {runs[1].Id}");
        await terminal.SendKeysAsync("D");
        string diff = await terminal.WaitForAsync(s => s.Contains("+rail 3: 3350 mV", StringComparison.Ordinal) && s.Contains("lines against run", StringComparison.Ordinal),
            "the diff and what it found");
        await terminal.SendKeysAsync("Escape");
        await terminal.WaitForAsync("search: rail 3");
        await terminal.SendKeysAsync("Escape");
        await terminal.WaitForAsync("2 hits in 2 runs");
        await terminal.SendKeysAsync("Escape");
        await terminal.WaitForAsync("[2 Runs]");
        await terminal.SendKeysAsync("q");
        await Eventually.True(() => !terminal.IsRunningAsync().GetAwaiter().GetResult(), what: "the app to quit");

        Assert.True(hits.IndexOf(runs[1].Id, StringComparison.Ordinal) < hits.IndexOf(runs[0].Id, StringComparison.Ordinal), hits);
        Assert.Contains("search: rail 3", run, StringComparison.Ordinal);
        Assert.Contains("-rail 3: ok", diff, StringComparison.Ordinal);
        Assert.Contains($"-1 +1 lines against run {runs[0].Id}", diff, StringComparison.Ordinal);
    }
}
