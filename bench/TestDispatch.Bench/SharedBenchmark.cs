using System.Globalization;
using System.Text.Json;
using CliWrap;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Wrapper;
using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// A machine shared by two state dirs (docs/DESIGN.md §12), through the real binary: what the machine's lock costs a
/// dispatch to a free local machine, and how long a freed machine takes to reach the run another state dir has waiting
/// for it. The wrapper always locks (there is no switch to skip it), so the lock's cost is its step alone, timed in the
/// same sh against that sh without it, beside a warm <c>run --wait</c> of a trivial test for scale. Figures, not assertions.
/// </summary>
internal static class SharedBenchmark
{
    public static int Run(BenchArgs args)
    {
        string binary = DispatchBenchmark.LocateBinary(args.String("testdispatch"));
        int iters = Math.Max(10, args.Int("iters") ?? 30);
        int trials = Math.Max(1, args.Int("trials") ?? 5);
        string root = args.String("dir") ?? Path.Combine(Path.GetTempPath(), $"td-shared-bench-{Environment.ProcessId}");
        bool keep = args.Flag("keep");
        args.RejectUnused();
        Console.WriteLine($"shared benchmark: {binary}; {Environment.ProcessorCount} cores; load {SyntheticRuns.LoadAverage()}");
        string locks = Path.Combine(root, "locks");
        string machine = $$"""[{"Name":"bench","Transport":"local","LockDir":"{{locks}}"}]""";
        LabSandbox alice = new(binary, Path.Combine(root, "alice"), "1m", machine);
        LabSandbox bob = new(binary, Path.Combine(root, "bob"), "1m", machine);
        try
        {
            LockStep(Path.Combine(locks, "testdispatch-bench.lock"), iters).GetAwaiter().GetResult();
            WarmDispatch(alice, iters).GetAwaiter().GetResult();
            Handover(alice, bob, trials).GetAwaiter().GetResult();
        }
        finally
        {
            alice.StopAgentsAsync().GetAwaiter().GetResult();
            bob.StopAgentsAsync().GetAwaiter().GetResult();
            if (!keep)
            {
                try { Directory.Delete(root, recursive: true); } catch (IOException) { }
            }
        }
        return 0;
    }

    /// <summary>The wrapper's own take_lock, run in sh on the machine's lock file, against the same sh that only defines it.</summary>
    private static async Task LockStep(string lockFile, int iters)
    {
        string script = RunWrapper.Script;
        int start = script.IndexOf("lock_holder=\nlock_refused=\ntake_lock() {", StringComparison.Ordinal);
        int end = script.IndexOf("\n}\n", start, StringComparison.Ordinal) + 3;
        string function = script[start..end];
        string with = function + "lock=$1\nholder='{}'\ntake_lock || exit 1\n";
        string without = function + "lock=$1\nholder='{}'\n";
        Samples locked = new(), bare = new();
        for (int i = 0; i < iters; i++)
        {
            // Interleaved, so that a change of load weighs on both alike.
            locked.Add((await LabSandbox.TimeAsync(Cli.Wrap("sh").WithArguments(["-c", with, "sh", lockFile]))).Milliseconds);
            bare.Add((await LabSandbox.TimeAsync(Cli.Wrap("sh").WithArguments(["-c", without, "sh", lockFile]))).Milliseconds);
        }
        Console.WriteLine($"  lock step (the wrapper's take_lock on a free machine, {iters} each): sh with it {Ms(locked.Median)} ms, without {Ms(bare.Median)} ms " +
            $"(medians): the lock costs {Ms(locked.Median - bare.Median)} ms");
    }

    /// <summary>A warm run --wait of a trivial test on the free machine, for scale.</summary>
    private static async Task WarmDispatch(LabSandbox lab, int iters)
    {
        string test = Test(lab, "warm", "exit 0");
        await lab.CallAsync("run", test, "--machine", "bench", "--wait");
        Samples warm = new();
        for (int i = 0; i < iters; i++)
        {
            CliCall call = await lab.CallAsync("run", test, "--machine", "bench", "--wait");
            if (call.ExitCode == 0)
            {
                warm.Add(call.Milliseconds);
            }
        }
        Console.WriteLine($"  warm 'run --wait' of a trivial test on the free machine ({warm.Count} calls): median {Ms(warm.Median)} ms, p90 {Ms(warm.Percentile(90))} ms");
    }

    /// <summary>
    /// Alice's run holds the machine, Bob's waits for it, per trial: Bob's started_at minus Alice's ended_at (the agents'
    /// records: a waiting run's started_at is stamped before its wrapper's tries at the lock, and the holder's ended_at once
    /// its agent saw the end, so this can be below zero), and Bob's test's first instant minus Alice's test's last (the
    /// tests' own clocks: what the machine sees).
    /// </summary>
    private static async Task Handover(LabSandbox alice, LabSandbox bob, int trials)
    {
        Samples records = new(), tests = new();
        for (int i = 0; i < trials; i++)
        {
            string started = Path.Combine(alice.Root, $"started-{i}");
            string last = Path.Combine(alice.Root, $"last-{i}");
            string first = Path.Combine(bob.Root, $"first-{i}");
            Run held = await DispatchAsync(alice, Test(alice, $"hold-{i}", $"touch '{started}'\nsleep 1\ndate +%s%N > '{last}'"));
            while (!File.Exists(started))
            {
                await Task.Delay(10);
            }
            Run waiting = await DispatchAsync(bob, Test(bob, $"wait-{i}", $"date +%s%N > '{first}'"));
            Run freed = await alice.View.WaitAsync(held.Id);
            Run took = await bob.View.WaitAsync(waiting.Id);
            if (freed.EndedAt is { } end && took is { StartedAt: { } start, Status: RunStatus.Completed })
            {
                records.Add((start - end).TotalMilliseconds);
                tests.Add((long.Parse(File.ReadAllText(first).Trim(), CultureInfo.InvariantCulture) - long.Parse(File.ReadAllText(last).Trim(), CultureInfo.InvariantCulture)) / 1e6);
            }
        }
        Console.WriteLine($"  a freed machine reaches the next waiting state dir ({tests.Count} of {trials} trials), median [min, max]:");
        Console.WriteLine($"    the tests' own clocks, waiting test's start minus holder test's end: {Ms(tests.Median)} ms [{Ms(tests.Min)}, {Ms(tests.Max)}]");
        Console.WriteLine($"    the stores, waiting run's started_at minus holder run's ended_at:    {Ms(records.Median)} ms [{Ms(records.Min)}, {Ms(records.Max)}]");
    }

    private static async Task<Run> DispatchAsync(LabSandbox lab, string test)
    {
        CliCall call = await lab.CallAsync("run", test, "--machine", "bench", "--json");
        return call.ExitCode == 0 ? JsonSerializer.Deserialize(call.Stdout, ContractJson.Default.Run)!
            : throw new InvalidOperationException($"dispatch failed: {call.Stderr}");
    }

    private static string Test(LabSandbox lab, string name, string script)
    {
        string dir = Path.Combine(lab.Root, "tests", name);
        Directory.CreateDirectory(dir);
        string run = Path.Combine(dir, "run.sh");
        File.WriteAllText(run, "#!/bin/sh\n" + script + "\n");
        File.SetUnixFileMode(run, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }
}
