using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using Xunit.Abstractions;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// One real state dir hammered by several real OS processes (TestDispatch.Tests.Fixture), with real
/// flock and real SIGKILLs: the store's invariants (docs/DESIGN.md §4.1–4.3) must hold across processes, not threads.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RunStoreProcessTests(ITestOutputHelper output)
{
    private const int Machines = 3;
    private const int Iterations = 150;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    [Fact]
    public async Task Concurrent_processes_never_put_two_active_runs_on_one_machine()
    {
        // Arrange
        using TempDir state = new();

        // Act
        IReadOnlyList<WorkerReport> workers = await HammerTogetherAsync(state.Path, workers: 4, compactAfter: null);

        // Assert
        RunStore store = OpenStore(state.Path);
        Assert.False(File.Exists(store.Paths.Snapshot), "no compaction was expected: the journal must hold the whole history to replay it");
        List<JournalEntry> journal = new JournalFile(new FileSystem(), store.Paths.Journal(0)).ReadFrom(0, 0).Entries;
        AssertNoMachineEverHadTwoActiveRuns(journal);
        Assert.Equal(workers.Sum(w => w.Writes.Count), journal.Count);
        Assert.Empty(store.Active());
        Assert.True(workers.Sum(w => w.Summary!.BusyByOther) > 0, "no worker ever found a machine busy with another worker's run: the processes did not contend");
        Assert.True(workers.Sum(w => w.Summary!.ReusedFromOther) > 0, "no worker ever reused another worker's run: the processes did not contend");
    }

    [Fact]
    public async Task Concurrent_processes_lose_no_acknowledged_write_even_across_compactions()
    {
        // Arrange
        using TempDir state = new();

        // Act
        IReadOnlyList<WorkerReport> workers = await HammerTogetherAsync(state.Path, workers: 4, compactAfter: 16);

        // Assert
        IReadOnlyList<RunRecord> runs = OpenStore(state.Path).List();
        Assert.True(File.Exists(new StatePaths(state.Path).Snapshot), "the journal was never compacted, so compaction under contention went untested");
        (List<string> missing, List<string> unexpected) = CompareWithStore(workers, runs);
        Assert.Empty(missing);
        Assert.Empty(unexpected);
        Assert.Equal(workers.Sum(w => w.Summary!.Created), runs.Count);
        Assert.All(runs, r => Assert.Equal(RunStatus.Completed, r.Run.Status));
    }

    /// <summary>Asks the hammer to compact every 40 lines into history segments of 5 runs (see HammerCommand).</summary>
    private const int HistoryEvery = -1;

    [Fact]
    public async Task Concurrent_processes_lose_no_acknowledged_write_while_history_segments_are_written()
    {
        // Arrange
        using TempDir state = new();

        // Act
        IReadOnlyList<WorkerReport> workers = await HammerTogetherAsync(state.Path, workers: 4, compactAfter: HistoryEvery);

        // Assert
        RunStore store = OpenStore(state.Path);
        IReadOnlyList<RunRecord> runs = store.List();
        HistoryIndex history = new History(new FileSystem(), store.Paths, new Durability(LibcFsync.Instance)).ReadIndex();
        Assert.True(history.Segments.Count > 2, $"only {history.Segments.Count} history segments were written: segments under contention went untested");
        (List<string> missing, List<string> unexpected) = CompareWithStore(workers, runs);
        Assert.Empty(missing);
        Assert.Empty(unexpected);
        Assert.Equal(workers.Sum(w => w.Summary!.Created), runs.Count);
        Assert.Equal(runs.Count, runs.Select(r => r.Id).Distinct().Count());
        Assert.All(runs, r => Assert.Equal(r.Id, store.Find(r.Id[..10]).Id));
        Assert.Null(store.CheckHistory());
    }

    [Fact]
    public async Task Prepare_gives_up_with_state_locked_while_another_process_holds_the_lock()
    {
        // Arrange
        using TempDir state = new();
        await using FixtureProgram holder = FixtureProgram.Start("hold-lock", state.Path);
        await holder.WaitForLinesAsync(lines => lines.Contains("locked"), Deadline);
        RunStore impatient = OpenStore(state.Path, lockTimeout: TimeSpan.FromMilliseconds(300));

        // Act
        DispatchException error = Assert.Throws<DispatchException>(() => impatient.Prepare(Request("m0")));

        // Assert
        Assert.Equal(ErrorCodes.StateLocked, error.ErrorCode);
        Assert.Contains(impatient.Paths.StateLock, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Waiting_processes_carry_on_once_the_lock_holder_is_killed()
    {
        // Arrange
        using TempDir state = new();
        await using FixtureProgram holder = FixtureProgram.Start("hold-lock", state.Path);
        await holder.WaitForLinesAsync(lines => lines.Contains("locked"), Deadline);
        await using FixtureProgram waiter = FixtureProgram.Start(HammerArguments(state.Path, "waiter", iterations: 20));
        await waiter.WaitForLinesAsync(lines => lines.Any(IsReady), Deadline);
        Task<PrepareOutcome> prepare = Task.Run(() => OpenStore(state.Path).Prepare(Request("m9")));
        int writesWhileHeld = Report(waiter).Writes.Count;
        using (IDisposable? stolen = new FlockFileLocks().TryAcquire(new StatePaths(state.Path).StateLock))
        {
            Assert.Null(stolen);
        }
        Assert.False(prepare.IsCompleted, "a prepare got through while another process held the state lock");

        // Act
        int holderExit = await holder.KillAsync();
        PrepareOutcome outcome = await prepare.WaitAsync(TimeSpan.FromSeconds(10));
        WorkerReport waited = await FinishAsync(waiter);

        // Assert
        Assert.Equal(128 + 9, holderExit);
        Assert.Equal(0, writesWhileHeld);
        Assert.Equal(PrepareKind.Created, outcome.Kind);
        Assert.True(waited.Summary!.Writes > 0, "the waiting process wrote nothing after the holder died");
    }

    [Fact]
    public async Task A_process_killed_mid_hammer_leaves_a_store_that_loads_and_keeps_its_invariants()
    {
        // Arrange
        using TempDir state = new();
        using IDisposable gate = HoldStateLock(state.Path);
        await using FixtureProgram victim = FixtureProgram.Start(HammerArguments(state.Path, "victim", iterations: 1_000_000, compactAfter: 16));
        await using FixtureProgram first = FixtureProgram.Start(HammerArguments(state.Path, "w1", Iterations * 2, compactAfter: 16));
        await using FixtureProgram second = FixtureProgram.Start(HammerArguments(state.Path, "w2", Iterations * 2, compactAfter: 16));
        await ReleaseWhenReadyAsync(gate, victim, first, second);
        await victim.WaitForLinesAsync(lines => lines.Count(IsWrite) >= 60, Deadline);

        // Act
        int victimExit = await victim.KillAsync();
        WorkerReport[] survivors = [await FinishAsync(first), await FinishAsync(second)];
        await using FixtureProgram late = FixtureProgram.Start(HammerArguments(state.Path, "late", Iterations / 3, compactAfter: 16));
        WorkerReport afterwards = await FinishAsync(late);

        // Assert
        Assert.Equal(128 + 9, victimExit);
        WorkerReport killed = Report(victim);
        Assert.Null(killed.Summary);
        IReadOnlyList<RunRecord> runs = OpenStore(state.Path).List();
        Assert.All(runs.Where(r => !r.Run.Status.IsTerminal()).GroupBy(r => r.Run.Machine), onOneMachine => Assert.Single(onOneMachine));
        (List<string> missing, List<string> unexpected) = CompareWithStore([killed, .. survivors, afterwards], runs);
        Assert.Empty(missing);
        // The victim may have died after a write and before printing it: at most that one write is unacknowledged.
        Assert.True(unexpected.Count <= 1 && unexpected.All(fact => fact.Contains("victim", StringComparison.Ordinal)),
            $"the store holds writes no worker acknowledged: {string.Join("; ", unexpected)}");
    }

    /// <summary>Starts <paramref name="workers"/> hammer processes that begin together, and waits for all to finish cleanly.</summary>
    private async Task<IReadOnlyList<WorkerReport>> HammerTogetherAsync(string stateDir, int workers, int? compactAfter)
    {
        List<FixtureProgram> running = [];
        try
        {
            using IDisposable gate = HoldStateLock(stateDir);
            for (int i = 1; i <= workers; i++)
            {
                running.Add(FixtureProgram.Start(HammerArguments(stateDir, $"w{i}", Iterations, compactAfter)));
            }
            await ReleaseWhenReadyAsync(gate, [.. running]);
            WorkerReport[] reports = [.. await Task.WhenAll(running.Select(FinishAsync))];
            foreach (WorkerReport report in reports)
            {
                output.WriteLine(JsonSerializer.Serialize(report.Summary, Json));
            }
            return reports;
        }
        finally
        {
            foreach (FixtureProgram program in running)
            {
                await program.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Holding the state lock while the workers start keeps them all waiting at their first prepare, so
    /// they really run at the same time instead of one finishing before the next has started.
    /// </summary>
    private static IDisposable HoldStateLock(string stateDir) =>
        new FlockFileLocks().Acquire(new StatePaths(stateDir).StateLock, Deadline);

    /// <summary>Releases the start gate once every worker is up (disposing it again later is harmless).</summary>
    private static async Task ReleaseWhenReadyAsync(IDisposable gate, params FixtureProgram[] workers)
    {
        using (gate)
        {
            foreach (FixtureProgram worker in workers)
            {
                await worker.WaitForLinesAsync(lines => lines.Any(IsReady), Deadline);
            }
        }
    }

    private static async Task<WorkerReport> FinishAsync(FixtureProgram worker)
    {
        int exitCode = await worker.WaitForExitAsync(Deadline);
        Assert.True(exitCode == 0, worker.Describe($"exited with code {exitCode}"));
        WorkerReport report = Report(worker);
        Assert.True(report.Summary is not null, worker.Describe("printed no summary"));
        Assert.Empty(report.Summary.Violations);
        Assert.Equal(report.Summary.Writes, report.Writes.Count);
        return report;
    }

    private static WorkerReport Report(FixtureProgram worker)
    {
        List<HammerEvent> events = [.. worker.Lines.Select(line => JsonSerializer.Deserialize<HammerEvent>(line, Json)!)];
        return new WorkerReport(
            events.First(e => e.Event == "ready").Worker!,
            [.. events.Where(e => e.Event is "created" or "running" or "completed" or "note")],
            events.SingleOrDefault(e => e.Event == "summary")?.Summary);
    }

    /// <summary>
    /// Replays the journal line by line (the order the lock serialised the writes in) and checks, after
    /// every line, that no machine has two non-terminal runs, and that each run only moves forward.
    /// </summary>
    private static void AssertNoMachineEverHadTwoActiveRuns(List<JournalEntry> journal)
    {
        Dictionary<string, RunRecord> runs = [];
        Dictionary<string, HashSet<string>> activeByMachine = [];
        long lastSeq = 0;
        for (int line = 1; line <= journal.Count; line++)
        {
            RunRecord record = journal[line - 1].Run!;
            string at = $"journal line {line}, run {record.Id}";
            if (runs.TryGetValue(record.Id, out RunRecord? before))
            {
                Assert.False(before.Run.Status.IsTerminal(), $"{at}: changed after it was {before.Run.Status}");
                Assert.True(Stage(record.Run.Status) >= Stage(before.Run.Status), $"{at}: went back from {before.Run.Status} to {record.Run.Status}");
            }
            else
            {
                Assert.True(record.Seq > lastSeq, $"{at}: new run has seq {record.Seq}, not after {lastSeq}");
                Assert.Equal(RunStatus.Pending, record.Run.Status);
                lastSeq = record.Seq;
            }
            runs[record.Id] = record;

            if (!activeByMachine.TryGetValue(record.Run.Machine, out HashSet<string>? active))
            {
                activeByMachine[record.Run.Machine] = active = [];
            }
            if (record.Run.Status.IsTerminal())
            {
                active.Remove(record.Id);
            }
            else
            {
                active.Add(record.Id);
            }
            Assert.True(active.Count <= 1, $"{at}: machine {record.Run.Machine} has {active.Count} active runs at once ({string.Join(", ", active)})");
        }
    }

    private static int Stage(RunStatus status) => status switch
    {
        RunStatus.Pending => 0,
        RunStatus.Running => 1,
        _ => 2,
    };

    /// <summary>
    /// The store as facts ("&lt;id&gt; started by w2", "&lt;id&gt; noted w3:17", …) against the facts the workers
    /// acknowledged: what was acknowledged but is not in the store is a lost write; the reverse, a phantom.
    /// </summary>
    private static (List<string> Missing, List<string> Unexpected) CompareWithStore(IEnumerable<WorkerReport> workers, IReadOnlyList<RunRecord> runs)
    {
        List<string> acknowledged = [.. workers.SelectMany(w => w.Writes.Select(write => AcknowledgedFact(w.Worker, write)))];
        List<string> stored = [.. runs.SelectMany(StoredFacts)];
        Assert.Equal(stored.Count, stored.Distinct().Count());
        Assert.Equal(acknowledged.Count, acknowledged.Distinct().Count());
        return ([.. acknowledged.Except(stored)], [.. stored.Except(acknowledged)]);
    }

    /// <summary>Only a run's creator starts and completes it, so the acknowledging worker is the creator of those.</summary>
    private static string AcknowledgedFact(string worker, HammerEvent write) => write.Event switch
    {
        "created" => $"{write.Id} created by {worker} on {write.Machine}",
        "running" => $"{write.Id} started by {worker}",
        "completed" => $"{write.Id} completed by {worker}",
        "note" => $"{write.Id} noted {write.Token}",
        _ => throw new InvalidOperationException($"not a write: {write.Event}"),
    };

    private static IEnumerable<string> StoredFacts(RunRecord record)
    {
        Run run = record.Run;
        yield return $"{run.Id} created by {run.PlanEntry} on {run.Machine}";
        if (run.StartedAt is not null)
        {
            yield return $"{run.Id} started by {run.PlanEntry}";
        }
        if (run.Status == RunStatus.Completed && run.ExitCode == 0)
        {
            yield return $"{run.Id} completed by {run.PlanEntry}";
        }
        foreach (string token in run.ErrorMsg.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            yield return $"{run.Id} noted {token}";
        }
    }

    private static string[] HammerArguments(string stateDir, string worker, int iterations, int? compactAfter = null) =>
        compactAfter == HistoryEvery
            ? ["hammer", stateDir, worker, $"{iterations}", $"{Machines}", "--history"]
            : compactAfter is { } lines
            ? ["hammer", stateDir, worker, $"{iterations}", $"{Machines}", "--compact-after", $"{lines}"]
            : ["hammer", stateDir, worker, $"{iterations}", $"{Machines}"];

    private static bool IsReady(string line) => line.Contains("\"event\":\"ready\"", StringComparison.Ordinal);

    private static bool IsWrite(string line) => !IsReady(line) && !line.Contains("\"event\":\"summary\"", StringComparison.Ordinal);

    private static RunStore OpenStore(string stateDir, TimeSpan? lockTimeout = null) =>
        new(new FileSystem(), new FlockFileLocks(), stateDir, options: lockTimeout is { } timeout ? new StoreOptions { LockTimeout = timeout } : null);

    private static PrepareRequest Request(string machine) =>
        new(machine, "/lab/tests/smoke", "cccc3333", new RunSpec(["./run-test.sh"], TimeSpan.FromMinutes(5)));

    /// <summary>What a hammer worker printed: its acknowledged writes and, unless it was killed, its summary.</summary>
    private sealed record WorkerReport(string Worker, IReadOnlyList<HammerEvent> Writes, HammerSummary? Summary);

    /// <summary>The fixture's output lines (TestDispatch.Tests.Fixture/Commands/HammerEvent.cs; not referenced, so mirrored here).</summary>
    private sealed record HammerEvent(string Event, string? Worker, string? Id, string? Machine, string? Token, HammerSummary? Summary);

    private sealed record HammerSummary(
        string Worker, int Created, int Reused, int Busy, int ReusedFromOther, int BusyByOther, int Writes, double MaxCallMs, IReadOnlyList<string> Violations);
}
