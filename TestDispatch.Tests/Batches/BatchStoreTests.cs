using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Batches;

/// <summary>The store's batch rules on a fake disk: which item a free machine gets, retries, cancel, persistence.</summary>
[Trait("Category", "Unit")]
public class BatchStoreTests
{
    private static readonly string[] NoTags = [];
    private readonly FakeStateDir _dir = new();

    private static BatchEntry Entry(string name, string? machine = null, string[]? tags = null, int retries = 0) => new()
    {
        Name = name,
        TestDir = $"/tests/{name}",
        TestDirHash = $"hash-{name}",
        Machine = machine,
        Tags = tags ?? [],
        Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)),
        Retries = retries,
    };

    private static RunRecord Fail(RunRecord r, string errorCode)
    {
        RunRecord failed = Finished(Running(r), RunStatus.Failed, exitCode: null);
        return failed with { Run = failed.Run with { ErrorCode = errorCode } };
    }

    private static void Finish(RunStore store, RunRecord run, RunStatus status = RunStatus.Completed, int? exit = 0)
    {
        store.Update(run.Id, Running);
        store.Update(run.Id, r => Finished(r, status, exit));
    }

    [Fact]
    public void A_free_machine_gets_the_first_waiting_entry_that_targets_it_as_a_run_of_the_batch_already_running()
    {
        RunStore store = _dir.Open();
        BatchRecord batch = store.AddBatch("b", "/plans/b.json", [Entry("on-m2", machine: "m2"), Entry("gpu", tags: ["gpu"]), Entry("any", tags: ["x86"])]);

        RunRecord? run = store.TakeNext("m1", ["x86"]);

        Assert.NotNull(run);
        Assert.Equal((RunStatus.Running, "m1", batch.Id, "any", "/tests/any", "hash-any"),
            (run.Run.Status, run.Run.Machine, run.Run.BatchId, run.Run.PlanEntry, run.Run.TestDir, run.Run.TestDirHash));
        Assert.NotNull(run.Run.StartedAt);
        Assert.Equal(run.Id, store.TakeNext("m1", ["x86"])?.Id); // busy with that run now: it is what the machine has to follow
        Assert.Null(store.TakeNext("m3", NoTags)); // nothing targets m3
        Assert.Equal("on-m2", store.TakeNext("m2", NoTags)!.Run.PlanEntry);
    }

    [Fact]
    public void The_oldest_batch_is_served_first_and_each_entry_runs_once()
    {
        RunStore store = _dir.Open();
        BatchRecord older = store.AddBatch("old", "/p", [Entry("a", tags: ["t"]), Entry("b", tags: ["t"])]);
        BatchRecord newer = store.AddBatch("new", "/p", [Entry("c", tags: ["t"])]);
        List<string> order = [];

        while (store.TakeNext("m1", ["t"]) is { } run)
        {
            order.Add($"{(run.Run.BatchId == older.Id ? "old" : "new")}/{run.Run.PlanEntry}");
            Finish(store, run);
        }

        Assert.Equal(["old/a", "old/b", "new/c"], order);
        Assert.Equal(BatchStatus.Completed, store.FindBatch(older.Id).Batch.Status);
        Assert.Equal(BatchStatus.Completed, store.FindBatch(newer.Id).Batch.Status);
    }

    [Fact]
    public void A_machines_own_pending_run_comes_before_batch_items_and_a_running_one_blocks_them()
    {
        RunStore store = _dir.Open();
        Run own = store.Prepare(Request(machine: "m1")).Run;
        store.AddBatch("b", "/p", [Entry("a", machine: "m1")]);

        Assert.Equal(own.Id, store.TakeNext("m1", NoTags)?.Id);
        store.Update(own.Id, Running);
        Assert.Equal(own.Id, store.TakeNext("m1", NoTags)?.Id); // a running run (after an agent restart: to follow again)
        store.Update(own.Id, r => Finished(r));
        Assert.Equal("a", store.TakeNext("m1", NoTags)?.Run.PlanEntry);
    }

    [Fact]
    public void Progress_counts_every_state_and_the_batch_fails_when_an_entry_did_not_pass()
    {
        RunStore store = _dir.Open();
        BatchRecord batch = store.AddBatch("b", "/p", [Entry("pass", tags: ["t"]), Entry("fail", tags: ["t"]), Entry("later", tags: ["t"])]);
        Finish(store, store.TakeNext("m1", ["t"])!);
        RunRecord failing = store.TakeNext("m1", ["t"])!;
        store.Update(failing.Id, Running);

        Batch during = store.FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal(BatchStatus.Running, during.Status);
        Assert.Null(during.EndedAt);
        Assert.Equal((3, 1, 1, 1, 1), (during.Counts.Total, during.Counts.Completed, during.Counts.Running, during.Counts.Waiting, during.Counts.Done));
        Assert.Equal(["completed", "running", "waiting"], during.Items!.Select(i => i.Status));

        store.Update(failing.Id, r => Finished(r, RunStatus.Failed, 1));
        Finish(store, store.TakeNext("m1", ["t"])!);

        Batch after = store.FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal(BatchStatus.Failed, after.Status);
        Assert.NotNull(after.EndedAt);
        Assert.Equal((2, 1, 3), (after.Counts.Completed, after.Counts.Failed, after.Counts.Done));
        Assert.Equal((1, 1, "m1"), (after.Items![1].ExitCode, after.Items[1].Attempts, after.Items[1].RanOn));
    }

    [Fact]
    public void An_infrastructure_failure_is_retried_while_retries_last_but_a_test_failure_never()
    {
        RunStore store = _dir.Open();
        BatchRecord batch = store.AddBatch("b", "/p", [Entry("flaky-rig", machine: "m1", retries: 2), Entry("bad-test", machine: "m2", retries: 2)]);

        for (int attempt = 1; attempt <= 3; attempt++)
        {
            RunRecord run = store.TakeNext("m1", NoTags)!;
            Assert.Equal("flaky-rig", run.Run.PlanEntry);
            store.Update(run.Id, r => Fail(r, ErrorCodes.TransportUnreachable));
        }
        Assert.Null(store.TakeNext("m1", NoTags)); // 1 try + 2 retries used up

        RunRecord failed = store.TakeNext("m2", NoTags)!;
        Finish(store, failed, RunStatus.Failed, exit: 1);
        Assert.Null(store.TakeNext("m2", NoTags));

        Batch done = store.FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal(BatchStatus.Failed, done.Status);
        Assert.Equal([3, 1], done.Items!.Select(i => i.Attempts));
        Assert.Equal(ErrorCodes.TransportUnreachable, done.Items![0].ErrorCode);
        Assert.Equal(4, store.List(new RunFilter(BatchId: batch.Id)).Count); // three tries of one, one of the other
    }

    [Fact]
    public void A_timeout_or_a_spawn_failure_is_not_retried()
    {
        RunStore store = _dir.Open();
        store.AddBatch("b", "/p", [Entry("slow", machine: "m1", retries: 3), Entry("nocmd", machine: "m1", retries: 3)]);

        RunRecord slow = store.TakeNext("m1", NoTags)!;
        store.Update(slow.Id, Running);
        store.Update(slow.Id, r => r with { Run = r.Run with { Status = RunStatus.Timeout, ErrorCode = ErrorCodes.Timeout, EndedAt = DateTimeOffset.UtcNow } });
        RunRecord noCommand = store.TakeNext("m1", NoTags)!;
        Assert.Equal("nocmd", noCommand.Run.PlanEntry);
        store.Update(noCommand.Id, r => Fail(r, ErrorCodes.SpawnFailed));

        Assert.Null(store.TakeNext("m1", NoTags));
    }

    [Fact]
    public void Cancelling_drops_waiting_entries_returns_the_active_runs_and_ends_cancelled_once_they_end()
    {
        RunStore store = _dir.Open();
        BatchRecord batch = store.AddBatch("b", "/p", [Entry("a", tags: ["t"]), Entry("b", tags: ["t"]), Entry("c", tags: ["t"])]);
        RunRecord running = store.TakeNext("m1", ["t"])!;
        store.Update(running.Id, Running);

        (BatchRecord cancelled, IReadOnlyList<RunRecord> active) = store.CancelBatch(batch.Id);

        Assert.NotNull(cancelled.CancelledAt);
        Assert.Equal([running.Id], active.Select(r => r.Id));
        Assert.Null(store.TakeNext("m2", ["t"]));
        Assert.Equal(BatchStatus.Running, store.FindBatch(batch.Id).Batch.Status); // until its run has stopped
        store.Update(running.Id, r => r with { Run = r.Run with { Status = RunStatus.Interrupted, ErrorCode = ErrorCodes.Interrupted, EndedAt = DateTimeOffset.UtcNow } });

        Batch after = store.FindBatch(batch.Id, withItems: true).Batch;
        Assert.Equal(BatchStatus.Cancelled, after.Status);
        Assert.Equal(["interrupted", "dropped", "dropped"], after.Items!.Select(i => i.Status));
        Assert.Equal((1, 2), (after.Counts.Interrupted, after.Counts.Dropped));
    }

    [Fact]
    public void The_agent_serves_only_free_machines_that_a_waiting_entry_may_run_on()
    {
        RunStore store = _dir.Open();
        Machine m1 = new() { Name = "m1", Transport = TransportKind.Local, Tags = ["gpu"] };
        Machine m2 = new() { Name = "m2", Transport = TransportKind.Local, Tags = ["gpu"] };
        Machine m3 = new() { Name = "m3", Transport = TransportKind.Local };
        store.AddBatch("b", "/p", [Entry("a", tags: ["gpu"]), Entry("b", tags: ["gpu"])]);
        Assert.Equal(["m1", "m2"], store.FreeWithWaitingItems([m1, m2, m3]).Select(m => m.Name));

        store.TakeNext("m1", ["gpu"]);

        Assert.Equal(["m2"], store.FreeWithWaitingItems([m1, m2, m3]).Select(m => m.Name));
        store.TakeNext("m2", ["gpu"]);
        Assert.Empty(store.FreeWithWaitingItems([m1, m2, m3])); // nothing waits any more: no loop spins on m3
    }

    [Fact]
    public void Has_work_counts_only_entries_that_a_machine_can_take()
    {
        RunStore store = _dir.Open();
        store.AddBatch("b", "/p", [Entry("gpu", tags: ["gpu"])]);

        Assert.True(store.HasWork(_ => true));
        Assert.False(store.HasWork(e => e.Tags.Contains("x86")));
    }

    [Fact]
    public void Batches_and_their_runs_survive_a_new_process_and_compaction_and_list_newest_first()
    {
        RunStore writer = _dir.Open(new StoreOptions { CompactAfterLines = 4 });
        BatchRecord first = writer.AddBatch("first", "/p/first.json", [Entry("a", tags: ["t"]), Entry("b", tags: ["t"], retries: 1)]);
        Finish(writer, writer.TakeNext("m1", ["t"])!);
        BatchRecord second = writer.AddBatch("second", "/p/second.json", [Entry("c", machine: "m2")]);
        writer.CancelBatch(second.Id);

        RunStore reader = _dir.Open();
        IReadOnlyList<Batch> batches = reader.Batches();

        Assert.Equal([second.Id, first.Id], batches.Select(b => b.Id));
        Assert.Equal(BatchStatus.Cancelled, batches[0].Status);
        Assert.Equal((1, 1), (batches[1].Counts.Completed, batches[1].Counts.Waiting));
        (BatchRecord record, _) = reader.FindBatch(first.Id[..4]);
        Assert.Equal(Json(first), Json(record));
        Assert.Equal("b", reader.TakeNext("m1", ["t"])!.Run.PlanEntry);
        Assert.True(_dir.Fs.File.Exists(_dir.Paths.Snapshot), "the journal was compacted into a snapshot");
    }

    private static string Json(BatchRecord batch) => System.Text.Json.JsonSerializer.Serialize(batch, StoreJson.Default.BatchRecord);

    [Fact]
    public void An_unknown_batch_id_is_batch_not_found()
    {
        RunStore store = _dir.Open();

        var error = Assert.Throws<Engine.Errors.DispatchException>(() => store.FindBatch("abc"));

        Assert.Equal(ErrorCodes.BatchNotFound, error.ErrorCode);
    }

    /// <summary>
    /// The store keeps each batch's waiting entries up to date as runs change rather than deriving them per take; this
    /// plays a random mix of takes, endings (passes, test failures, retryable infrastructure failures), cancels and
    /// reopenings from disk, and checks every take against the item states derived afresh from the batch's runs.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_take_gets_the_first_entry_that_derived_state_says_waits_for_that_machine(int seed)
    {
        Random random = new(seed);
        (string Name, string[] Tags)[] machines = [("m1", ["x86", "gpu"]), ("m2", ["x86"]), ("m3", ["arm"])];
        RunStore store = _dir.Open(new StoreOptions { CompactAfterLines = 25 });
        List<string> batchIds = [];
        for (int b = 0; b < 2; b++)
        {
            List<BatchEntry> entries = [.. Enumerable.Range(0, 12).Select(i => (i % 4) switch
            {
                0 => Entry($"b{b}-e{i}", machine: "m2", retries: i % 3),
                1 => Entry($"b{b}-e{i}", tags: ["gpu"], retries: i % 3),
                2 => Entry($"b{b}-e{i}", tags: ["arm"]),
                _ => Entry($"b{b}-e{i}", tags: ["x86"], retries: 1),
            })];
            batchIds.Add(store.AddBatch($"batch-{b}", "/p", entries).Id);
        }
        string[] endings = ["pass", "test-failure", ErrorCodes.AgentLost, ErrorCodes.CopyFailed, "timeout"];

        for (int step = 0; step < 300; step++)
        {
            int action = random.Next(10);
            if (action < 5)
            {
                (string machine, string[] tags) = machines[random.Next(machines.Length)];
                RunRecord? occupying = store.Active().FirstOrDefault(r => r.Run.Machine == machine);
                string? expected = occupying is null ? FirstWaitingFor(store, batchIds, machine, tags) : occupying.Run.PlanEntry;

                RunRecord? taken = store.TakeNext(machine, tags);

                Assert.Equal(expected, taken?.Run.PlanEntry);
            }
            else if (action < 9)
            {
                IReadOnlyList<RunRecord> active = store.Active();
                if (active.Count > 0)
                {
                    RunRecord run = active[random.Next(active.Count)];
                    store.Update(run.Id, r => endings[random.Next(endings.Length)] switch
                    {
                        "pass" => Finished(r),
                        "test-failure" => Finished(r, RunStatus.Failed, 1),
                        "timeout" => Finished(r, RunStatus.Timeout, null),
                        var code => Fail(r, code),
                    });
                }
            }
            else if (random.Next(8) == 0)
            {
                store.CancelBatch(batchIds[random.Next(batchIds.Count)]);
            }
            else
            {
                store = _dir.Open(new StoreOptions { CompactAfterLines = 25 }); // a new process: the index is rebuilt from disk
            }
        }
        Assert.All(store.Batches(), b => Assert.Equal(b.Counts.Waiting > 0 || b.Counts.Running > 0, b.Status == BatchStatus.Running));
    }

    private static string? FirstWaitingFor(RunStore store, List<string> batchIds, string machine, string[] tags)
    {
        foreach (string id in batchIds)
        {
            foreach (BatchItem item in store.FindBatch(id, withItems: true).Batch.Items!)
            {
                bool targets = item.Machine is not null ? item.Machine == machine : item.Tags!.All(tags.Contains);
                if (item.Status == BatchProgress.WaitingWord && targets)
                {
                    return item.Name;
                }
            }
        }
        return null;
    }
}
