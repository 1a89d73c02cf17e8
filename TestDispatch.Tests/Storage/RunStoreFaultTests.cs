using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Wrapper;
using TestDispatch.Tests.Support;
using Xunit.Abstractions;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// Every store operation with each of its steps failing in turn, as a full or failing disk makes them fail (a short
/// write, an fsync returning -1 with its errno, a rename, a lock): the operation either fails with a coded error and
/// records nothing, or succeeds because the step came after its record was durable. Either way a new store on the same
/// disk loads, holds every acknowledged run and batch and nothing else, and the store that failed works again.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RunStoreFaultTests(ITestOutputHelper output)
{
    /// <summary>What the store has acknowledged: each run's status, and the batches.</summary>
    private sealed class Ledger
    {
        public Dictionary<string, RunStatus> Runs { get; } = [];

        public HashSet<string> Batches { get; } = [];

        public string PendingRun { get; set; } = "";

        public string RunningRun { get; set; } = "";

        public void Add(RunRecord record) => Add(record.Run);

        public void Add(Run run) => Runs[run.Id] = run.Status;
    }

    private sealed record Operation(string Name, int CompactAfterLines, bool EmptyDisk, Action<RunStore, Ledger> Act);

    private static readonly Operation[] Operations =
    [
        new("prepare", 1000, false, (store, ledger) => ledger.Add(store.Prepare(Request(machine: "m9")).Run)),
        new("prepare on a new state dir", 1000, true, (store, ledger) => ledger.Add(store.Prepare(Request(machine: "m9")).Run)),
        new("update", 1000, false, (store, ledger) => ledger.Add(store.Update(ledger.PendingRun, Running))),
        new("update that finishes a run", 1000, false, (store, ledger) => ledger.Add(store.Update(ledger.RunningRun, r => Finished(r)))),
        new("update, not durable", 1000, false, (store, ledger) =>
            ledger.Add(store.Update(ledger.RunningRun, r => r with { Process = new RunProcess { WrapperPid = 4241, ProcessGroupId = 4242, StartTicks = 1, AgentPid = 1 } }, durable: false))),
        new("batch submit", 1000, false, (store, ledger) => ledger.Batches.Add(store.AddBatch("b2", "/plans/b2.json", [Entry("x"), Entry("y")]).Id)),
        new("take a batch item", 1000, false, (store, ledger) => ledger.Add(store.TakeNext("m5", ["x86"])!)),
        new("compaction", 1000, false, (store, _) => store.Compact()),
        new("update that compacts", SetupLines + 1, false, (store, ledger) => ledger.Add(store.Update(ledger.PendingRun, Running))),
    ];

    /// <summary>The journal lines <see cref="Setup"/> writes.</summary>
    private const int SetupLines = 7;

    public static TheoryData<string> OperationNames() => [.. Operations.Select(o => o.Name)];

    [Theory]
    [MemberData(nameof(OperationNames))]
    public void Every_failing_step_is_reported_with_a_code_and_loses_no_acknowledged_run(string name)
    {
        Operation operation = Operations.Single(o => o.Name == name);
        IReadOnlyList<string> steps = CountSteps(operation);
        int faults = 0;
        int failed = 0;
        int absorbed = 0;
        foreach ((int step, string kind) in steps.Select((s, i) => (i + 1, s.Split(' ')[0])))
        {
            foreach (int errno in ErrnosFor(kind))
            {
                foreach (bool sticky in new[] { false, true })
                {
                    faults++;
                    if (InjectAndCheck(operation, step, errno, sticky))
                    {
                        failed++;
                    }
                    else
                    {
                        absorbed++;
                    }
                }
            }
        }
        output.WriteLine($"{name}: {steps.Count} steps ({string.Join(", ", steps)}); {faults} faults injected: " +
            $"{failed} reported as errors, {absorbed} absorbed after the record was durable; 0 acknowledged runs lost");
        Assert.True(failed > 0, "no fault made the operation fail: the faults did not reach it");
    }

    private IReadOnlyList<string> CountSteps(Operation operation)
    {
        FaultyDisk disk = new();
        (RunStore store, Ledger ledger) = Setup(disk, operation);
        disk.Plan.Start();
        operation.Act(store, ledger);
        disk.Plan.Stop();
        return disk.Plan.Steps;
    }

    /// <summary>Fails one step (and, if sticky, all after it); checks the outcome; true if the operation reported an error.</summary>
    private static bool InjectAndCheck(Operation operation, int step, int errno, bool sticky)
    {
        FaultyDisk disk = new();
        (RunStore store, Ledger ledger) = Setup(disk, operation);
        disk.Plan.Start(failAt: step, errno: errno, sticky: sticky);
        DispatchException? error = null;
        try
        {
            operation.Act(store, ledger);
        }
        catch (DispatchException e)
        {
            error = e;
        }
        catch (Exception e)
        {
            Assert.Fail($"{Describe(operation, disk, errno, sticky)}: threw {e.GetType().Name} instead of a coded error: {e.Message}");
        }
        disk.Plan.Stop();
        IReadOnlyList<string> passed = disk.Plan.Steps;
        string failedStep = disk.Plan.Failed!;
        string what = Describe(operation, disk, errno, sticky);

        if (error is null)
        {
            // Success despite a failed step is right only when the step came after the record was durable: compaction.
            Assert.True(IsCompactionStep(failedStep, passed), $"{what}: acknowledged although '{failedStep}' failed");
        }
        else
        {
            Assert.Equal(ExpectedCode(failedStep, errno), error.ErrorCode);
            Assert.Contains("/state", error.Message, StringComparison.Ordinal);
        }

        // A new store (a new process) loads, and holds what was acknowledged and nothing else, unless the error said the
        // failed write could not be taken back (then it may be there too: a disk failing at every step).
        bool maybeRecorded = error?.Message.Contains("may read it as recorded", StringComparison.Ordinal) == true;
        RunStore fresh = disk.Open();
        IReadOnlyList<RunRecord> runs = fresh.List();
        foreach ((string id, RunStatus status) in ledger.Runs)
        {
            Assert.True(runs.Any(r => r.Id == id), $"{what}: acknowledged run {id} is lost");
            RunStatus now = fresh.Get(id).Run.Status;
            Assert.True(now == status || maybeRecorded, $"{what}: run {id} is {now.ToWord()}, acknowledged as {status.ToWord()}");
        }
        Assert.All(ledger.Batches, id => Assert.Equal(id, fresh.FindBatch(id).Record.Id));
        bool asAcknowledged = runs.Count == ledger.Runs.Count && fresh.Batches().Count == ledger.Batches.Count &&
            runs.All(r => ledger.Runs[r.Id] == r.Run.Status);
        Assert.True(asAcknowledged || maybeRecorded, $"{what}: the failed write is visible to other processes, and the error did not say it may be: {error?.Message}");
        Assert.False(maybeRecorded && !sticky, $"{what}: one failed step left the write visible: it was not taken back");
        Assert.All(runs.Where(r => !r.Run.Status.IsTerminal()).GroupBy(r => r.Run.Machine), g => Assert.Single(g));

        // The store that failed works again, from what is on disk, and a new one sees its write.
        Run after = store.Prepare(Request(machine: "m-after")).Run;
        Assert.Equal(RunStatus.Pending, disk.Open().Get(after.Id).Run.Status);
        Assert.Equal(runs.Count + 1, disk.Open().List().Count);
        return error is not null;
    }

    /// <summary>A state dir with a pending, a running and a finished run and a batch with an item waiting for m5.</summary>
    private static (RunStore Store, Ledger Ledger) Setup(FaultyDisk disk, Operation operation)
    {
        RunStore store = disk.Open(new StoreOptions { CompactAfterLines = operation.CompactAfterLines });
        Ledger ledger = new();
        if (operation.EmptyDisk)
        {
            return (store, ledger);
        }
        RunRecord pending = RecordOf(store, store.Prepare(Request(machine: "m1")).Run);
        RunRecord running = store.Update(RecordOf(store, store.Prepare(Request(machine: "m2")).Run).Id, Running);
        RunRecord finished = store.Update(store.Update(RecordOf(store, store.Prepare(Request(machine: "m3")).Run).Id, Running).Id, r => Finished(r));
        BatchRecord batch = store.AddBatch("b1", "/plans/b1.json", [Entry("waits", machine: "m5")]);
        foreach (RunRecord record in new[] { pending, running, finished })
        {
            ledger.Add(record);
        }
        ledger.Batches.Add(batch.Id);
        (ledger.PendingRun, ledger.RunningRun) = (pending.Id, running.Id);
        Assert.Equal(SetupLines, disk.Fs.File.ReadAllLines(disk.Paths.Journal(0)).Length);
        return (store, ledger);
    }

    private static RunRecord RecordOf(RunStore store, Run run) => store.Get(run.Id);

    private static BatchEntry Entry(string name, string? machine = null) => new()
    {
        Name = name,
        TestDir = $"/tests/{name}",
        TestDirHash = $"hash-{name}",
        Machine = machine,
        Tags = machine is null ? ["x86"] : [],
        Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)),
    };

    private static int[] ErrnosFor(string kind) => kind switch
    {
        "lock" => [FaultPlan.ENOLCK],
        "open-read" => [FaultPlan.EIO],
        _ => [FaultPlan.ENOSPC, FaultPlan.EIO],
    };

    private static string ExpectedCode(string step, int errno) => errno switch
    {
        FaultPlan.ENOSPC => ErrorCodes.DiskFull,
        _ when step.StartsWith("open-read", StringComparison.Ordinal) => ErrorCodes.StateUnreadable,
        _ => ErrorCodes.StateUnwritable,
    };

    /// <summary>Steps of a compaction, which follows an append already durable (or is the whole operation).</summary>
    private static bool IsCompactionStep(string step, IReadOnlyList<string> passed) =>
        step.EndsWith("snapshot.json.tmp", StringComparison.Ordinal) || step.StartsWith("rename ", StringComparison.Ordinal) ||
        step.StartsWith("delete /state/journal.", StringComparison.Ordinal) ||
        step.Contains("/state/batches", StringComparison.Ordinal) || // a hot batch's entries, written before its snapshot
        step == "fsync-dir /state" && passed.Any(s => s.StartsWith("rename ", StringComparison.Ordinal));

    private static string Describe(Operation operation, FaultyDisk disk, int errno, bool sticky) =>
        $"'{operation.Name}' with step '{disk.Plan.Failed}' failing ({System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}{(sticky ? ", and every step after it" : "")})";
}
