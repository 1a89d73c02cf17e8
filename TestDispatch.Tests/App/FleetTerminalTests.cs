using System.Text.RegularExpressions;
using TestDispatch.Engine;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.App;

/// <summary>The Machines tab's fleet columns and keys, in the built app under tmux at 80×24.</summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class FleetTerminalTests : IDisposable
{
    private readonly CliHarness _lab = new(defaults: """ "AgentIdle": "5s", "KillGrace": "1s" """);

    public void Dispose() => _lab.Dispose();

    private IReadOnlyList<string> App => [.. CliHarness.Program, "--state-dir", _lab.StateDir, "--config", _lab.ConfigFile];

    [Fact]
    public async Task An_empty_runs_tab_says_what_to_do()
    {
        await using Tmux terminal = new();
        await terminal.StartAsync(App, width: 80, height: 24);

        string screen = await terminal.WaitForAsync("No runs yet");

        Assert.Contains("press d to dispatch a test, such as examples/pass", screen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_machines_tab_shows_queue_recent_letters_and_infra_count_and_drains_and_resumes_with_confirmation()
    {
        Lab lab = _lab.OpenLab();
        foreach (string script in new[] { "exit 0", "exit 1", "exit 0" })
        {
            await lab.WaitAsync((await lab.DispatchAsync(_lab.MakeTest($"t{Guid.NewGuid():N}", script), "local-1")).Run.Id);
        }
        string gate = _lab.Combine("gate");
        Run occupying = (await lab.DispatchAsync(_lab.MakeTest("gate", $"while [ ! -e '{gate}' ]; do sleep 0.05; done"), "local-1")).Run;
        await lab.DispatchAsync(_lab.MakeTest("queued", "exit 0"), "local-1", queue: true);
        await using Tmux terminal = new();
        await terminal.StartAsync(App, width: 80, height: 24, environment: new Dictionary<string, string> { ["NO_COLOR"] = "1" });
        await terminal.WaitForAsync("[2 Runs]");

        await terminal.SendKeysAsync("1");
        string machines = await terminal.WaitForAsync(s => s.Contains("[1 Machines]", StringComparison.Ordinal) && s.Contains(occupying.Id, StringComparison.Ordinal), "the busy machine");
        Assert.Matches(@"NAME\s+STATE\s+Q\s+RECENT\s+INFRA\s+CURRENT RUN", machines);
        Assert.Matches($@"local-1\s+busy\s+1\s+CFC\s+0\s+{occupying.Id}", machines); // letters without colour too
        Assert.Matches(@"local-2\s+idle\s+0\s+-\s+0\s", machines);

        await terminal.SendKeysAsync("D");
        await terminal.WaitForAsync("Drain local-1");
        await terminal.SendKeysAsync("n");
        await terminal.WaitForAsync("local-1 not drained");
        await terminal.SendKeysAsync("D");
        await terminal.WaitForAsync("y to confirm");
        await terminal.SendKeysAsync("y");
        string draining = await terminal.WaitForAsync(s => Regex.IsMatch(s, @"local-1\s+draining\s+1\s"), "local-1 draining");
        Assert.Matches(@"local-1\s+draining\s.*\sdrained", draining); // NOTE, as wide as 80 columns leave it
        Assert.Contains("local-1 draining; 1 queued runs wait for the resume", draining, StringComparison.Ordinal);
        Assert.NotNull(lab.Machines()[0].Drained);

        File.WriteAllText(gate, "");
        await terminal.WaitForAsync(s => Regex.IsMatch(s, @"local-1\s+drained\s+1\s+CFCC\s"), "the current run done and the queue held");
        await terminal.SendKeysAsync("u");
        await terminal.WaitForAsync("Resume local-1");
        await terminal.SendKeysAsync("y");
        await terminal.WaitForAsync(s => Regex.IsMatch(s, @"local-1\s+idle\s+0\s+CFCCC\s"), "the resumed machine to run its queue", TimeSpan.FromSeconds(30));
        Assert.Null(lab.Machines()[0].Drained);
    }

    [Fact]
    public async Task The_dispatch_dialog_queues_on_a_busy_machine_when_asked()
    {
        Lab lab = _lab.OpenLab();
        string gate = _lab.Combine("gate");
        Run occupying = (await lab.DispatchAsync(_lab.MakeTest("gate", $"while [ ! -e '{gate}' ]; do sleep 0.05; done"), "local-1")).Run;
        string test = _lab.MakeTest("wants-local-1", "echo queued one ran");
        await using Tmux terminal = new();
        await terminal.StartAsync(App, width: 80, height: 24);
        await terminal.WaitForAsync(occupying.Id);

        await terminal.SendKeysAsync("d");
        await terminal.WaitForAsync("queue if busy");
        await terminal.SendKeysAsync("-N", "300", "BSpace");
        await terminal.TypeAsync(test);
        await terminal.SendKeysAsync("Enter");
        await terminal.WaitForAsync("F2 to queue");
        await terminal.SendKeysAsync("F2");
        await terminal.WaitForAsync("[x] queue if busy");
        await terminal.SendKeysAsync("Enter");
        await terminal.WaitForAsync("PENDING");

        MachineState one = lab.Machines()[0];
        Run queued = lab.Show(Assert.Single(one.Queue));
        Assert.Equal((test, RunStatus.Pending), (queued.TestDir, queued.Status));
        File.WriteAllText(gate, "");
        Assert.Equal(RunStatus.Completed, (await lab.WaitAsync(queued.Id).WaitAsync(TimeSpan.FromSeconds(30))).Status);
    }
}
