using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Transports;

/// <summary>
/// A lab machine that stops answering for good in the middle of a run (switched off, unplugged): reconnects are tried,
/// but once the run should be over — cancelled, or past its time limit — it is given up after KillGrace +
/// UnreachableGrace, so a cancel, a --wait or a batch never waits for ever. Found in the ssh review: both hung until the
/// machine came back.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SshUnreachableTests : IDisposable
{
    private readonly SshServer _sshd = new();
    private readonly CliHarness _cli;
    private readonly string _release;

    public SshUnreachableTests()
    {
        _cli = new CliHarness(machinesJson: $"[ {_sshd.Machine("rig")} ]",
            defaults: """ "AgentIdle": "3s", "KillGrace": "1s", "UnreachableGrace": "2s" """);
        _release = _cli.Combine("release");
    }

    public void Dispose()
    {
        try
        {
            // The "remote" test is on this host and nobody can stop it over ssh any more: let it end by itself, and wait
            // until it has. Removing the release's folder first (the harness's dir) left it looping for ever.
            File.WriteAllText(_release, "");
            Eventually.True(() => Leftovers.In(_sshd.WorkRoot).Count == 0, TimeSpan.FromSeconds(30), "the remote test to see its release and end")
                .GetAwaiter().GetResult();
        }
        finally
        {
            _cli.Dispose();
            _sshd.Dispose();
        }
    }

    private async Task<Run> StartedAsync(params string[] extra)
    {
        string test = _cli.MakeTest("waits", $"echo started\nwhile [ ! -e '{_release}' ]; do sleep 0.1; done");
        (_, string id, string error) = await _cli.Run(["run", test, "--machine", "rig", .. extra]);
        Assert.True(id.Trim().Length > 0, error);
        Lab lab = _cli.OpenLab();
        return (await Eventually.Get(() => lab.Store.Get(id.Trim()) is { Process.ProcessGroupId: > 0 } r ? r : null, what: "the test to start")).Run;
    }

    [Fact]
    public async Task A_run_cancelled_on_a_machine_that_stopped_answering_ends_interrupted_as_transport_unreachable()
    {
        Run run = await StartedAsync();

        _sshd.Stop();
        (int cancelExit, _, string cancelError) = await _cli.Run("cancel", run.Id);
        Run ended = await _cli.OpenLab().WaitAsync(run.Id).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.True(cancelExit == 0, cancelError);
        Assert.Equal((RunStatus.Interrupted, ErrorCodes.TransportUnreachable), (ended.Status, ended.ErrorCode));
        Assert.Contains("may still be running there", ended.ErrorMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_past_its_time_limit_on_a_machine_that_stopped_answering_ends_timeout_as_transport_unreachable()
    {
        Run run = await StartedAsync("--timeout", "3s");

        _sshd.Stop();
        Run ended = await _cli.OpenLab().WaitAsync(run.Id).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.Equal((RunStatus.Timeout, ErrorCodes.TransportUnreachable), (ended.Status, ended.ErrorCode));
        Assert.Null(ended.ExitCode);
    }

    [Fact]
    public async Task A_run_given_up_on_a_silent_machine_holds_it_until_the_machine_answers_and_the_run_is_stopped_there()
    {
        Run run = await StartedAsync();
        string other = _cli.MakeTest("other", "true");

        _sshd.Stop();
        await _cli.Run("cancel", run.Id);
        Run ended = await _cli.OpenLab().WaitAsync(run.Id).WaitAsync(TimeSpan.FromSeconds(90));
        (int refused, _, string refusal) = await _cli.Run("run", other, "--machine", "rig");
        (_, string machines, _) = await _cli.Run("machines", "--json");
        bool stillThere = Leftovers.In(_sshd.WorkRoot).Count > 0;
        _sshd.Restart();
        await Eventually.True(() => Leftovers.In(_sshd.WorkRoot).Count == 0 && !Directory.Exists(Path.Combine(_sshd.WorkRoot, run.Id)),
            TimeSpan.FromSeconds(60), "the given-up test to be stopped, and its run dir removed, once the machine answers");
        await Eventually.True(() => _cli.OpenLab(startsAgents: false).Machines().Single().State == "idle", TimeSpan.FromSeconds(30), "the machine to take work again");
        (int accepted, _, string acceptedError) = await _cli.Run("run", other, "--machine", "rig", "--wait");

        Assert.Equal((RunStatus.Interrupted, ErrorCodes.TransportUnreachable), (ended.Status, ended.ErrorCode));
        Assert.True(stillThere, "the given-up test was still running while the machine did not answer");
        Assert.Equal(3, refused);
        Assert.Contains(ErrorCodes.MachineInDoubt, refusal, StringComparison.Ordinal);
        Assert.Contains("\"state\": \"unknown\"", machines, StringComparison.Ordinal);
        Assert.True(accepted == 0, acceptedError);
    }
}
