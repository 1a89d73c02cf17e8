using System.Globalization;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Machines;

/// <summary>
/// One machine shared by two engineers, each with a state dir of their own (two labs, each with its own agent), through the
/// real CLI and real agents: the machine's lock, taken by each run's wrapper on the machine itself, lets one test run there at
/// a time; the other run waits, pending, naming who holds the machine, and runs once it is free (docs/DESIGN.md §12).
/// </summary>
[Trait("Category", "Integration")]
public sealed class SharedMachineTests : IDisposable
{
    /// <summary>The machine's lock directory (a fresh one per test: a machine that rebooted, as far as the lock goes) and the tests' trace.</summary>
    private readonly TempDir _shared = new("testdispatch-shared-");
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (IDisposable owned in Enumerable.Reverse(_owned))
        {
            owned.Dispose();
        }
        _shared.Dispose();
    }

    private string Locks => _shared.Combine("locks");

    private string Trace => _shared.Combine("trace");

    private CliHarness Lab(string machineJson)
    {
        CliHarness lab = new(machinesJson: $"[ {machineJson} ]");
        _owned.Add(lab);
        return lab;
    }

    private string LocalMachine => $$"""{ "Name": "bench", "Transport": "local", "LockDir": "{{Locks}}" }""";

    /// <summary>A test that writes when it started and ended (nanoseconds since the epoch) into the shared trace.</summary>
    private string Traced(CliHarness lab, string name, double seconds = 1.5) => lab.MakeTest(name, $"""
        s=$(date +%s%N)
        sleep {seconds.ToString(CultureInfo.InvariantCulture)}
        echo "{name} $s $(date +%s%N)" >> '{Trace}'
        """);

    private static async Task<Run> DispatchAsync(CliHarness lab, string test, string machine)
    {
        (int exit, string output, string error) = await lab.Run("run", test, "--machine", machine, "--json");
        Assert.True(exit == 0, error);
        return JsonSerializer.Deserialize(output, ContractJson.Default.Run)!;
    }

    /// <summary>The two tests' spans from the trace, which must not overlap.</summary>
    private void AssertNeverTogether()
    {
        (long Start, long End)[] spans = [.. File.ReadAllLines(Trace).Select(l => l.Split(' ')).Select(f => (long.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture)))];
        Assert.Equal(2, spans.Length);
        Array.Sort(spans);
        Assert.True(spans[0].End <= spans[1].Start, $"the tests ran together: {spans[0]} and {spans[1]}");
    }

    /// <summary>Whichever of the two runs waits for the machine: it is pending, naming the other's state dir and run; with the holder shown in machines.</summary>
    private static async Task<(CliHarness Waiter, Run Waiting, Run Holding)> WaiterAsync((CliHarness Lab, Run Run) a, (CliHarness Lab, Run Run) b)
    {
        return await Eventually.Get(() =>
        {
            foreach (((CliHarness lab, Run run), (CliHarness other, Run held)) in new[] { (a, b), (b, a) })
            {
                if (lab.OpenLab(startsAgents: false).Show(run.Id) is { Status: RunStatus.Pending, ErrorCode: ErrorCodes.MachineBusyElsewhere } waiting &&
                    other.OpenLab(startsAgents: false).Show(held.Id) is { Status: RunStatus.Running } holding)
                {
                    return Tuple.Create(lab, waiting, holding);
                }
            }
            return null;
        }, TimeSpan.FromSeconds(30), "one run to wait for the other's machine") is var (lab, waiting, holding) ? (lab, waiting, holding) : default;
    }

    /// <summary>
    /// The agent's idle look found the machine held by another lab's run, but a run of this lab ran there after the look began
    /// (under load, a look can take long, and its answer comes after that run ended): the machine shows free, not held by a
    /// run that was long gone (a flake of the test below under load).
    /// </summary>
    [Fact]
    public async Task A_holder_found_by_a_look_begun_before_a_run_of_ours_last_ended_there_is_not_shown()
    {
        CliHarness lab = Lab(LocalMachine);
        (int exit, _, string error) = await lab.Run("run", lab.MakeTest("quick", "exit 0"), "--machine", "bench", "--wait");
        Lab opened = lab.OpenLab(startsAgents: false);
        DateTimeOffset ended = opened.Store.LastFinishedOn("bench")!.Run.EndedAt!.Value;
        LockHolder other = new() { User = "bob", Host = "lab", StateDir = "/elsewhere/state", RunId = "0123456789ab", TestDir = "/t", Since = ended.AddMinutes(-1) };

        new Engine.Storage.ReachabilityFile(opened.Store.Paths).Held("bench", other, looked: ended.AddSeconds(-1));
        LockHolder? before = lab.OpenLab(startsAgents: false).Machines().Single().HeldBy;
        new Engine.Storage.ReachabilityFile(opened.Store.Paths).Held("bench", other, looked: DateTimeOffset.UtcNow);
        LockHolder? after = lab.OpenLab(startsAgents: false).Machines().Single().HeldBy;

        Assert.True(exit == 0, error);
        Assert.Null(before);
        Assert.Equal(other.RunId, after?.RunId);
    }

    [Fact]
    public async Task Two_labs_dispatching_to_one_local_machine_at_once_never_run_together_and_the_waiting_run_names_the_holder()
    {
        CliHarness alice = Lab(LocalMachine);
        CliHarness bob = Lab(LocalMachine);
        string aliceTest = Traced(alice, "alice");
        string bobTest = Traced(bob, "bob");

        Run[] dispatched = await Task.WhenAll(DispatchAsync(alice, aliceTest, "bench"), DispatchAsync(bob, bobTest, "bench"));
        (CliHarness waiter, Run waiting, Run holding) = await WaiterAsync((alice, dispatched[0]), (bob, dispatched[1]));
        string holderDir = waiter == alice ? bob.StateDir : alice.StateDir;
        MachineState seen = waiter.OpenLab(startsAgents: false).Machines().Single();
        (_, string table, _) = await waiter.Run("machines");

        Run aliceRun = await alice.OpenLab().WaitAsync(dispatched[0].Id).WaitAsync(TimeSpan.FromSeconds(60));
        Run bobRun = await bob.OpenLab().WaitAsync(dispatched[1].Id).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Contains(holderDir, waiting.ErrorMsg, StringComparison.Ordinal);
        Assert.Contains(holding.Id, waiting.ErrorMsg, StringComparison.Ordinal);
        Assert.Equal((MachineState.Busy, holding.Id, holderDir), (seen.State, seen.HeldBy?.RunId, seen.HeldBy?.StateDir));
        Assert.Matches($"held by .*@.* since .*run {holding.Id} of {System.Text.RegularExpressions.Regex.Escape(holderDir)}", table);
        Assert.Equal((RunStatus.Completed, ""), (aliceRun.Status, aliceRun.ErrorCode));
        Assert.Equal((RunStatus.Completed, ""), (bobRun.Status, bobRun.ErrorCode));
        AssertNeverTogether();
        Assert.Null(waiter.OpenLab(startsAgents: false).Machines().Single().HeldBy);
    }

    [Fact]
    public async Task Two_labs_dispatching_to_one_ssh_machine_at_once_never_run_together()
    {
        using SshServer sshd = new();
        string rig = sshd.Machine("rig", extra: $""", "LockDir": "{Locks}" """);
        CliHarness alice = Lab(rig);
        CliHarness bob = Lab(rig);
        // Long enough that the second launch, over ssh from a second agent on a loaded host, still finds the first running.
        string aliceTest = Traced(alice, "alice", seconds: 6);
        string bobTest = Traced(bob, "bob", seconds: 6);

        Run[] dispatched = await Task.WhenAll(DispatchAsync(alice, aliceTest, "rig"), DispatchAsync(bob, bobTest, "rig"));
        (CliHarness _, Run waiting, Run holding) = await WaiterAsync((alice, dispatched[0]), (bob, dispatched[1]));
        Run aliceRun = await alice.OpenLab().WaitAsync(dispatched[0].Id).WaitAsync(TimeSpan.FromSeconds(90));
        Run bobRun = await bob.OpenLab().WaitAsync(dispatched[1].Id).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.Contains(holding.Id, waiting.ErrorMsg, StringComparison.Ordinal);
        Assert.Equal((RunStatus.Completed, RunStatus.Completed), (aliceRun.Status, bobRun.Status));
        AssertNeverTogether();
    }

    [Fact]
    public async Task A_holder_killed_with_its_whole_wrapper_frees_the_machine_for_the_waiting_run()
    {
        CliHarness alice = Lab(LocalMachine);
        CliHarness bob = Lab(LocalMachine);
        string hold = alice.MakeTest("hold", "sleep 600");
        Run held = await DispatchAsync(alice, hold, "bench");
        await Eventually.True(() => File.Exists(Path.Combine(alice.StateDir, "runs", held.Id, "pgid")), what: "alice's test to run");
        Run waiting = await DispatchAsync(bob, Traced(bob, "bob", 0.1), "bench");
        await Eventually.True(() => bob.OpenLab(startsAgents: false).Show(waiting.Id).ErrorCode == ErrorCodes.MachineBusyElsewhere, what: "bob's run to wait");

        string wrapperFile = Path.Combine(alice.StateDir, "runs", held.Id, "wrapper");
        int wrapper = int.Parse(File.ReadAllText(wrapperFile).Split(' ')[0], CultureInfo.InvariantCulture);
        int group = int.Parse(File.ReadAllText(Path.Combine(alice.StateDir, "runs", held.Id, "pgid")).Split(' ')[0], CultureInfo.InvariantCulture);
        await CliWrap.Cli.Wrap("kill").WithArguments(["-KILL", "--", $"-{group}", $"{wrapper}"]).ExecuteAsync();

        Run ran = await bob.OpenLab().WaitAsync(waiting.Id).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal((RunStatus.Completed, ""), (ran.Status, ran.ErrorCode));
        Assert.Single(File.ReadAllLines(Trace));
    }

    [Fact]
    public async Task Machines_holders_shows_who_holds_each_machine_whichever_state_dir_dispatched_the_run()
    {
        CliHarness alice = Lab(LocalMachine);
        CliHarness bob = Lab(LocalMachine);
        string gate = _shared.Combine("gate");
        Run held = await DispatchAsync(alice, alice.MakeTest("hold", $"while [ ! -e '{gate}' ]; do sleep 0.05; done"), "bench");
        // The test's own record of its start: its wrapper holds the lock by then.
        await Eventually.True(() => File.Exists(Path.Combine(alice.StateDir, "runs", held.Id, "pgid")), what: "alice's test to run");

        (int exit, string json, string error) = await bob.Run("machines", "--holders", "--json");
        (_, string text, _) = await bob.Run("machines", "--holders");
        File.WriteAllText(gate, "");
        await alice.OpenLab().WaitAsync(held.Id).WaitAsync(TimeSpan.FromSeconds(30));
        (_, string after, _) = await bob.Run("machines", "--holders", "--json");

        Assert.True(exit == 0, error);
        MachineHolder seen = JsonSerializer.Deserialize(json, ContractJson.Default.IReadOnlyListMachineHolder)!.Single();
        Assert.Equal(("bench", held.Id, alice.StateDir, held.TestDir), (seen.Name, seen.HeldBy?.RunId, seen.HeldBy?.StateDir, seen.HeldBy?.TestDir));
        Assert.Contains(held.Id, text, StringComparison.Ordinal);
        Assert.Null(JsonSerializer.Deserialize(after, ContractJson.Default.IReadOnlyListMachineHolder)!.Single().HeldBy);
    }

    [Fact]
    public async Task An_agent_killed_while_its_run_holds_the_machine_leaves_the_lock_with_the_wrapper_until_the_test_ends()
    {
        CliHarness alice = Lab(LocalMachine);
        CliHarness bob = Lab(LocalMachine);
        string gate = _shared.Combine("gate");
        Run held = await DispatchAsync(alice, alice.MakeTest("hold", $"while [ ! -e '{gate}' ]; do sleep 0.05; done"), "bench");
        await Eventually.True(() => File.Exists(Path.Combine(alice.StateDir, "runs", held.Id, "pgid")), what: "alice's test to run");
        string[] pids = File.ReadAllText(Path.Combine(alice.StateDir, "agent.pid")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        // The keeper first, so that nothing starts the agent again.
        await CliWrap.Cli.Wrap("kill").WithArguments(["-KILL", .. pids.Reverse().Where(p => p != "0")]).ExecuteAsync();
        await Eventually.True(() => !Directory.Exists($"/proc/{pids[0]}"), what: "alice's agent to die");
        Run waiting = await DispatchAsync(bob, Traced(bob, "bob", 0.1), "bench");
        await Eventually.True(() => bob.OpenLab(startsAgents: false).Show(waiting.Id).ErrorCode == ErrorCodes.MachineBusyElsewhere, what: "bob's run to wait");
        bool stillHeld = bob.OpenLab(startsAgents: false).Show(waiting.Id).Status == RunStatus.Pending && !File.Exists(Trace);
        File.WriteAllText(gate, "");

        Run ran = await bob.OpenLab().WaitAsync(waiting.Id).WaitAsync(TimeSpan.FromSeconds(30));
        Run alices = await alice.OpenLab().WaitAsync(held.Id).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(stillHeld, "bob's test ran while alice's wrapper still held the machine");
        Assert.Equal((RunStatus.Completed, RunStatus.Completed), (ran.Status, alices.Status));
    }

    [Fact]
    public async Task A_batch_entry_whose_machine_is_held_elsewhere_goes_to_another_free_machine_of_its_tags_instead_of_waiting()
    {
        string machines = $$"""
            { "Name": "rig-1", "Transport": "local", "LockDir": "{{Locks}}", "Tags": ["rig"] }, { "Name": "rig-2", "Transport": "local", "LockDir": "{{Locks}}", "Tags": ["rig"] }
            """;
        CliHarness alice = Lab(machines);
        CliHarness bob = Lab(machines);
        string gate = _shared.Combine("gate");
        Run held = await DispatchAsync(alice, alice.MakeTest("hold", $"while [ ! -e '{gate}' ]; do sleep 0.05; done"), "rig-1");
        await Eventually.True(() => File.Exists(Path.Combine(alice.StateDir, "runs", held.Id, "pgid")), what: "alice's test to run");
        string plan = bob.Combine("plan.json");
        File.WriteAllText(plan, $$"""
            { "entries": [ { "name": "e1", "test_dir": "{{Traced(bob, "e1", 0.5)}}", "tags": ["rig"] }, { "name": "e2", "test_dir": "{{Traced(bob, "e2", 0.5)}}", "tags": ["rig"] } ] }
            """);

        Batch batch;
        bool aliceStillHeld;
        try
        {
            string id = (await bob.OpenLab().SubmitBatchAsync(plan)).Id;
            // Alice holds rig-1 all along: the batch can finish only if neither entry waits on rig-1.
            batch = await Eventually.Get(() => bob.OpenLab(startsAgents: false).ShowBatch(id) is { Status: not BatchStatus.Running } done ? done : null,
                TimeSpan.FromSeconds(60), "bob's batch to finish while alice holds rig-1");
            aliceStillHeld = alice.OpenLab(startsAgents: false).Show(held.Id).Status == RunStatus.Running;
        }
        finally
        {
            File.WriteAllText(gate, "");
        }

        Assert.True(aliceStillHeld, "alice's run was no longer holding rig-1");
        Assert.All(batch.Items!, i => Assert.Equal(("completed", "rig-2"), (i.Status, i.RanOn)));
        AssertNeverTogether();
        Assert.Equal(RunStatus.Completed, (await alice.OpenLab().WaitAsync(held.Id).WaitAsync(TimeSpan.FromSeconds(30))).Status);
    }

    [Fact]
    public async Task Runs_of_one_lab_waiting_for_a_machine_held_elsewhere_take_it_in_the_order_they_were_queued()
    {
        CliHarness alice = Lab(LocalMachine);
        CliHarness bob = Lab(LocalMachine);
        string gate = _shared.Combine("gate");
        Run held = await DispatchAsync(alice, alice.MakeTest("hold", $"while [ ! -e '{gate}' ]; do sleep 0.05; done"), "bench");
        await Eventually.True(() => File.Exists(Path.Combine(alice.StateDir, "runs", held.Id, "pgid")), what: "alice's test to run");
        List<Run> queued = [];
        for (int i = 0; i < 3; i++)
        {
            (int exit, string output, string error) = await bob.Run("run", Traced(bob, $"b{i}", 0.1), "--machine", "bench", "--queue", "--json");
            Assert.True(exit == 0, error);
            queued.Add(JsonSerializer.Deserialize(output, ContractJson.Default.Run)!);
        }
        await Eventually.True(() => bob.OpenLab(startsAgents: false).Show(queued[0].Id).ErrorCode == ErrorCodes.MachineBusyElsewhere, what: "bob's first run to wait");
        File.WriteAllText(gate, "");

        Run[] ran = await Task.WhenAll(queued.Select(r => bob.OpenLab().WaitAsync(r.Id).WaitAsync(TimeSpan.FromSeconds(60))));

        Assert.All(ran, r => Assert.Equal((RunStatus.Completed, ""), (r.Status, r.ErrorCode)));
        Assert.Equal(["b0", "b1", "b2"], File.ReadAllLines(Trace).Select(l => l.Split(' ')[0]));
        Assert.True(ran[0].StartedAt < ran[1].StartedAt && ran[1].StartedAt < ran[2].StartedAt, "bob's runs took the machine out of their order");
    }

    [Fact]
    public async Task An_agents_look_at_an_idle_ssh_machine_shows_it_busy_with_its_holder_before_anything_was_dispatched_there()
    {
        using SshServer sshd = new();
        string rig = sshd.Machine("rig", extra: $""", "LockDir": "{Locks}" """);
        CliHarness alice = Lab(rig);
        CliHarness bob = Lab($$"""{{rig}}, { "Name": "desk", "Transport": "local", "LockDir": "{{Locks}}" }""");
        string gate = _shared.Combine("gate");
        string started = _shared.Combine("started");
        string Hold(CliHarness lab) => lab.MakeTest("hold", $"""touch '{started}'-"$TESTDISPATCH_MACHINE"; while [ ! -e '{gate}' ]; do sleep 0.05; done""");
        Run held = await DispatchAsync(alice, Hold(alice), "rig");

        MachineState seen;
        string table;
        try
        {
            // The test's own mark of its start: its wrapper holds the lock by then.
            await Eventually.True(() => File.Exists($"{started}-rig"), TimeSpan.FromSeconds(30), "alice's test to run");
            // Bob's agent, kept by a run on another machine, looks at the idle rig as it starts.
            await DispatchAsync(bob, Hold(bob), "desk");
            seen = await Eventually.Get(() => bob.OpenLab(startsAgents: false).Machines().Single(m => m.Name == "rig") is { HeldBy: not null } m ? m : null,
                TimeSpan.FromSeconds(30), "bob's agent to see alice holding the rig");
            (_, table, _) = await bob.Run("machines");
        }
        finally
        {
            File.WriteAllText(gate, "");
        }

        Assert.Equal((MachineState.Busy, held.Id, alice.StateDir), (seen.State, seen.HeldBy!.RunId, seen.HeldBy.StateDir));
        Assert.NotNull(seen.HeldBy.Since);
        Assert.Null(seen.CurrentRun);
        Assert.Matches($"rig .*held by .*run {held.Id}", table);
        Assert.Equal(RunStatus.Completed, (await alice.OpenLab().WaitAsync(held.Id).WaitAsync(TimeSpan.FromSeconds(60))).Status);
    }

    [Fact]
    public async Task An_agents_look_at_an_idle_local_machine_shows_it_busy_with_its_holder_before_anything_was_dispatched_there()
    {
        CliHarness alice = Lab(LocalMachine);
        CliHarness bob = Lab($$"""{{LocalMachine}}, { "Name": "desk", "Transport": "local", "LockDir": "{{Locks}}" }""");
        string gate = _shared.Combine("gate");
        string started = _shared.Combine("started");
        string Hold(CliHarness lab) => lab.MakeTest("hold", $"""touch '{started}'-"$TESTDISPATCH_MACHINE"; while [ ! -e '{gate}' ]; do sleep 0.05; done""");
        Run held = await DispatchAsync(alice, Hold(alice), "bench");

        MachineState seen;
        string table;
        try
        {
            await Eventually.True(() => File.Exists($"{started}-bench"), TimeSpan.FromSeconds(30), "alice's test to run");
            // Bob's agent, kept by a run on his other machine, looks at the idle bench as it starts.
            await DispatchAsync(bob, Hold(bob), "desk");
            seen = await Eventually.Get(() => bob.OpenLab(startsAgents: false).Machines().Single(m => m.Name == "bench") is { HeldBy: not null } m ? m : null,
                TimeSpan.FromSeconds(30), "bob's agent to see alice holding the bench");
            (_, table, _) = await bob.Run("machines");
        }
        finally
        {
            File.WriteAllText(gate, "");
        }

        Assert.Equal((MachineState.Busy, held.Id, alice.StateDir), (seen.State, seen.HeldBy!.RunId, seen.HeldBy.StateDir));
        Assert.Null(seen.CurrentRun);
        Assert.Matches($"bench .*held by .*run {held.Id}", table);
        Assert.Equal(RunStatus.Completed, (await alice.OpenLab().WaitAsync(held.Id).WaitAsync(TimeSpan.FromSeconds(60))).Status);
    }

    [Fact]
    public async Task Twenty_dispatches_from_four_labs_to_two_machines_all_complete_never_two_at_once_on_one()
    {
        string machines = $$"""
            { "Name": "bench-a", "Transport": "local", "LockDir": "{{Locks}}" }, { "Name": "bench-b", "Transport": "local", "LockDir": "{{Locks}}" }
            """;
        CliHarness[] labs = [.. Enumerable.Range(0, 4).Select(_ => Lab(machines))];
        // Each test its own content: a test dispatched again while its twin waits is that same run.
        string Test(CliHarness lab, int i) => lab.MakeTest($"t{i}", $"""
            # test {i} of {lab.StateDir}
            s=$(date +%s%N)
            sleep 0.2
            echo "$TESTDISPATCH_MACHINE $s $(date +%s%N)" >> '{Trace}'
            """);

        // Each lab queues five runs, alternating the machines: its own queue keeps its runs in order, the lock keeps the labs apart.
        (CliHarness Lab, Run Run)[] dispatched = await Task.WhenAll(labs.Select(async lab =>
        {
            List<(CliHarness, Run)> runs = [];
            for (int i = 0; i < 5; i++)
            {
                (int exit, string output, string error) = await lab.Run("run", Test(lab, i), "--machine", i % 2 == 0 ? "bench-a" : "bench-b", "--queue", "--json");
                Assert.True(exit == 0, error);
                runs.Add((lab, JsonSerializer.Deserialize(output, ContractJson.Default.Run)!));
            }
            return runs;
        })).ContinueWith(t => t.Result.SelectMany(r => r).ToArray(), TaskScheduler.Default);

        Run[] ended = await Task.WhenAll(dispatched.Select(d => d.Lab.OpenLab().WaitAsync(d.Run.Id).WaitAsync(TimeSpan.FromSeconds(180))));

        Assert.All(ended, run => Assert.Equal((RunStatus.Completed, ""), (run.Status, run.ErrorCode)));
        string[][] lines = [.. File.ReadAllLines(Trace).Select(l => l.Split(' '))];
        Assert.Equal(20, lines.Length);
        foreach (IGrouping<string, string[]> machine in lines.GroupBy(l => l[0]))
        {
            (long Start, long End)[] spans = [.. machine.Select(f => (long.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture))).Order()];
            Assert.All(spans.Zip(spans.Skip(1)), pair => Assert.True(pair.First.End <= pair.Second.Start, $"two tests at once on {machine.Key}: {pair.First} and {pair.Second}"));
        }
    }
}
