using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Machines;

/// <summary>
/// Waiting on work that only a machine out of service may run (issue 31, item 1): a wait never sits for ever without saying
/// what holds it. A machine only a person can put back (held by health with no health check) ends the wait with the hold's
/// code, the machine, why, and the commands that unblock it; a drain (its resume ends it) is said once, and waited through.
/// </summary>
[Trait("Category", "Integration")]
public sealed class HeldWorkWaitTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly CliHarness _cli = new(defaults: """ "AgentIdle": "60s", "KillGrace": "1s" """);

    public void Dispose() => _cli.Dispose();

    private string Plan(string entries)
    {
        string path = _cli.Combine($"plan-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, $$"""{ "entries": [ {{entries}} ] }""");
        return path;
    }

    private static void MakeUnhealthy(Lab lab, string machine) => lab.Fleet.Ledger.Change(f => f.With(machine, f[machine] with
    {
        InfraFailures = 3,
        UnhealthySince = DateTimeOffset.UtcNow,
        UnhealthyWhy = "3 infrastructure failures in a row, the last transport_unreachable in run 0123456789ab",
    }));

    [Fact]
    public async Task Batch_wait_on_an_entry_pinned_to_a_machine_health_took_out_stops_with_machine_unhealthy_and_says_how_to_unblock()
    {
        Lab lab = _cli.OpenLab(startsAgents: false);
        await using InProcessAgent agent = new(lab, new HashSet<string> { "local-1" }, ErrorCodes.TransportUnreachable);
        _cli.MakeTest("pass", "exit 0");
        string plan = Plan("""{ "name": "pinned", "test_dir": "tests/pass", "machine": "local-1", "retries": 5 }""");
        using CancellationTokenSource hang = new(Patience);

        (int exit, string output, string error) = await _cli.Run(["batch", "submit", plan, "--wait"], hang.Token);

        Assert.False(hang.IsCancellationRequested, "batch submit --wait still waited after a minute");
        Assert.True(exit == ExitCodes.MachineBusy, error);
        string id = output.Trim();
        Assert.Contains($"testdispatch: machine_unhealthy: batch {id} can get no further: pinned (local-1: machine_unhealthy: local-1 held after 3 infrastructure " +
            "failures in a row, the last transport_unreachable", error, StringComparison.Ordinal);
        Assert.Contains("'testdispatch machine resume local-1' puts it back", error, StringComparison.Ordinal);
        Assert.Contains($"'testdispatch batch cancel {id}'", error, StringComparison.Ordinal);

        (_, string shown, _) = await _cli.Run("batch", "show", id);
        Assert.Contains("waiting (machine_unhealthy: local-1 held after 3 infrastructure failures", shown, StringComparison.Ordinal);
        (_, string json, _) = await _cli.Run("batch", "show", id, "--json");
        BatchItem item = Assert.Single(JsonSerializer.Deserialize(json, ContractJson.Default.Batch)!.Items!);
        Assert.Equal(("waiting", ErrorCodes.MachineUnhealthy, 3), (item.Status, item.ErrorCode, item.Attempts));
        Assert.DoesNotContain("held after", json, StringComparison.Ordinal); // the JSON keeps its fields: the code says it
    }

    [Fact]
    public async Task Batch_wait_on_a_drained_machine_says_once_what_it_waits_for_and_ends_after_the_resume()
    {
        Lab lab = _cli.OpenLab();
        Assert.Equal(0, (await _cli.Run("machine", "drain", "local-1", "--reason", "new cable")).Exit);
        _cli.MakeTest("pass", "exit 0");
        Batch batch = await lab.SubmitBatchAsync(Plan("""{ "name": "pinned", "test_dir": "tests/pass", "machine": "local-1" }"""));
        List<string> notes = [];
        using CancellationTokenSource hang = new(Patience);

        Task<Batch> waiting = lab.WaitBatchAsync(batch.Id, waitingOn: n => { lock (notes) { notes.Add(n); } }, cancellationToken: hang.Token);
        await Eventually.True(() => { lock (notes) { return notes.Count > 0; } }, what: "the wait to say what it waits for");
        Assert.Contains("waiting (machine_drained: local-1 drained by", Tui.Text.Format.Status(lab.ShowBatch(batch.Id).Items![0]), StringComparison.Ordinal);
        Assert.Equal(0, (await _cli.Run("machine", "resume", "local-1")).Exit);
        Batch ended = await waiting;

        Assert.Equal(BatchStatus.Completed, ended.Status);
        string note = Assert.Single(notes);
        Assert.Contains($"batch {batch.Id} waits: pinned (local-1: machine_drained: local-1 drained by {Environment.UserName}", note, StringComparison.Ordinal);
        Assert.Contains("(new cable)", note, StringComparison.Ordinal);
        Assert.Contains("'testdispatch machine resume local-1' puts it back", note, StringComparison.Ordinal);
        Assert.Contains($"'testdispatch batch cancel {batch.Id}' ends the batch", note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_queued_run_on_a_machine_health_took_out_ends_run_wait_and_logs_follow_with_machine_unhealthy()
    {
        Lab lab = _cli.OpenLab(startsAgents: false);
        Run queued = (await lab.DispatchAsync(_cli.MakeTest("pass", "exit 0"), "local-1")).Run; // no agent yet: it stays pending
        MakeUnhealthy(lab, "local-1");
        using CancellationTokenSource hang = new(Patience);

        DispatchException waited = await Assert.ThrowsAsync<DispatchException>(() => _cli.OpenLab().WaitAsync(queued.Id, cancellationToken: hang.Token));
        (int exit, _, string error) = await _cli.Run(["logs", "-f", queued.Id], hang.Token);

        Assert.Equal(ErrorCodes.MachineUnhealthy, waited.ErrorCode);
        Assert.Contains($"run {queued.Id} waits in the queue of machine local-1, which takes no new work: local-1 held after 3 infrastructure failures",
            waited.Message, StringComparison.Ordinal);
        Assert.Contains("'testdispatch machine resume local-1' puts it back", waited.Message, StringComparison.Ordinal);
        Assert.Contains($"'testdispatch cancel {queued.Id}' drops the run", waited.Message, StringComparison.Ordinal);
        Assert.True(exit == ExitCodes.MachineBusy, error);
        Assert.StartsWith($"testdispatch: machine_unhealthy: run {queued.Id} waits in the queue", error, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Pending, lab.Show(queued.Id).Status); // the run itself is untouched
    }

    [Fact]
    public async Task A_run_queued_on_a_drained_machine_is_waited_for_after_saying_so_once()
    {
        Lab lab = _cli.OpenLab(startsAgents: false);
        Run queued = (await lab.DispatchAsync(_cli.MakeTest("pass", "exit 0"), "local-1")).Run;
        Assert.Equal(0, (await _cli.Run("machine", "drain", "local-1")).Exit);
        List<string> notes = [];
        using CancellationTokenSource hang = new(Patience);

        Task<Run> waiting = _cli.OpenLab().WaitAsync(queued.Id, n => { lock (notes) { notes.Add(n); } }, hang.Token);
        await Eventually.True(() => { lock (notes) { return notes.Count > 0; } }, what: "the wait to say what it waits for");
        Assert.Equal(0, (await _cli.Run("machine", "resume", "local-1")).Exit);
        Run ended = await waiting;

        Assert.Equal(RunStatus.Completed, ended.Status);
        string note = Assert.Single(notes);
        Assert.Contains($"run {queued.Id} waits for machine local-1: local-1 drained by {Environment.UserName}", note, StringComparison.Ordinal);
        Assert.Contains("'testdispatch machine resume local-1' puts it back", note, StringComparison.Ordinal);
    }
}
