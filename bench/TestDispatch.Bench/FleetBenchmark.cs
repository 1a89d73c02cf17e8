using System.Diagnostics;
using System.Globalization;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Execution;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Transports;
using TestDispatch.Engine.Wrapper;

using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// One batch over a fleet where one machine fails every run with an infrastructure error (its transport's copy always
/// fails: a rig whose disk is gone), against the same batch on the healthy machines alone, and on the same fleet with the
/// health rule out of reach (InfraFailuresInARow 1000). The agent is the real one, run in this process so that the
/// bad machine can be given that transport; every other run is a real test through the local transport. Prints how
/// many entries the bad machine took before health held it, how many failed in the end, the tries, and the wall times.
/// </summary>
internal static class FleetBenchmark
{
    public static int Run(BenchArgs args)
    {
        int entries = args.Int("entries") ?? 40;
        double seconds = (args.Int("test-ms") ?? 250) / 1000.0;
        int retries = args.Int("retries", min: 0) ?? 1;
        bool keep = args.Flag("keep");
        args.RejectUnused();

        string root = Directory.CreateTempSubdirectory("testdispatch-fleet-bench-").FullName;
        try
        {
            Console.WriteLine($"Fleet: a batch of {entries} entries (tags: rig, retries: {retries}), each test sleeping {seconds:0.###}s; " +
                "rig-4 fails every launch with copy_failed (simulated transport). Load average " +
                File.ReadAllText("/proc/loadavg").Split(' ')[0] + $" on {Environment.ProcessorCount} cores.");
            Result bad = Measure(root, "4 machines, rig-4 broken", 4, broken: "rig-4", entries, seconds, retries, threshold: 3);
            Result healthy = Measure(root, "3 healthy machines", 3, broken: null, entries, seconds, retries, threshold: 3);
            Result noRule = Measure(root, "4 machines, rig-4 broken, no health rule", 4, broken: "rig-4", entries, seconds, retries, threshold: 1000);

            TextTable table = new("fleet", "ran on rig-4", "rig-4 held", "failed", "tries", "wall s", "vs 3 healthy");
            foreach (Result r in new[] { bad, healthy, noRule })
            {
                table.Add(r.Name, r.Broken ? Count(r.RanOnBroken) : "-", r.Broken ? (r.Held ? "yes" : "no") : "-", Count(r.Failed), Count(r.Tries),
                    r.Wall.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture),
                    (r.Wall.TotalSeconds / healthy.Wall.TotalSeconds).ToString("0.00", CultureInfo.InvariantCulture) + "x");
            }
            table.Write(Console.Out);
            Console.WriteLine($"Goal: rig-4 takes N = 3 entries before it is held, 0 entries fail with retries: {retries}.");
            return 0;
        }
        finally
        {
            if (!keep)
            {
                Directory.Delete(root, recursive: true);
            }
            else
            {
                Console.WriteLine($"kept {root}");
            }
        }
    }

    private sealed record Result(string Name, bool Broken, int RanOnBroken, bool Held, int Failed, int Tries, TimeSpan Wall);

    private static Result Measure(string root, string name, int machines, string? broken, int entries, double seconds, int retries, int threshold)
    {
        string dir = Path.Combine(root, $"{machines}-{broken ?? "none"}-{threshold}");
        string test = Path.Combine(dir, "test");
        Directory.CreateDirectory(test);
        File.WriteAllText(Path.Combine(test, "run.sh"), $"#!/bin/sh\nsleep {seconds.ToString(CultureInfo.InvariantCulture)}\n");
        File.SetUnixFileMode(Path.Combine(test, "run.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, $$"""
            { "TestDispatch": { "Defaults": { "AgentIdle": "10m", "KillGrace": "1s" }, "Health": { "InfraFailuresInARow": {{threshold}} },
              "Machines": [ {{string.Join(",", Enumerable.Range(1, machines).Select(i => $$"""{ "Name": "rig-{{i}}", "Transport": "local", "Tags": ["rig"] }"""))}} ] } }
            """);
        string plan = Path.Combine(dir, "plan.json");
        File.WriteAllText(plan, $$"""{ "name": "fleet", "entries": [ {{string.Join(",", Enumerable.Range(0, entries).Select(i =>
            $$"""{ "name": "e{{i}}", "test_dir": "test", "tags": ["rig"], "retries": {{retries}} }"""))}} ] }""");
        Lab lab = Lab.Open(LabConfigLoader.Load(ConfigSources.ForThisProcess(config, Path.Combine(dir, "state"))));

        LocalTransport local = new();
        FailingTransport failing = new();
        RunExecutor executor = new(lab.Store, lab.Config, m => m.Name == broken ? failing : local, lab.Clock, TimedLog.Null);
        using CancellationTokenSource stop = new();
        Task<int> agent = Task.Run(() => new Agent(lab.Store, lab.Fleet, lab.Config, lab.FileSystem, lab.Locks, executor, TimedLog.Null, lab.Clock).RunAsync(stop.Token));

        Stopwatch wall = Stopwatch.StartNew();
        Batch batch = lab.SubmitBatchAsync(plan).GetAwaiter().GetResult();
        Batch ended = lab.WaitBatchAsync(batch.Id).GetAwaiter().GetResult();
        wall.Stop();
        stop.Cancel();
        agent.GetAwaiter().GetResult();

        IReadOnlyList<RunRecord> runs = lab.Store.List(new RunFilter(BatchId: batch.Id));
        bool held = broken is not null && lab.Machines().Single(m => m.Name == broken).Health == MachineHealth.Unhealthy;
        return new Result(name, broken is not null, runs.Count(r => r.Run.Machine == broken), held,
            ended.Items!.Count(i => i.Status != "completed"), runs.Count, wall.Elapsed);
    }

    /// <summary>A rig whose copy always fails: every launch is copy_failed before the test starts.</summary>
    private sealed class FailingTransport : ITransport
    {
        public Task<IReadOnlyList<string>> SweepAsync(IReadOnlyList<(RunFiles Files, string? RunDir)> runs, TimeSpan grace, CancellationToken cancellationToken = default) =>
            Task.FromResult<IReadOnlyList<string>>([.. runs.Select(r => r.Files.RunId)]);

        public Task<RunProcess?> FindAsync(RunFiles files, CancellationToken cancellationToken = default) => Task.FromResult<RunProcess?>(null);
        public Task<bool> FenceAsync(RunFiles files, CancellationToken cancellationToken = default) => Task.FromResult(true);
        public Task<LaunchResult> LaunchAsync(LaunchRequest request, CancellationToken cancellationToken = default) =>
            Task.FromResult(LaunchResult.Failed(ErrorCodes.CopyFailed, $"could not copy the test dir to {request.Machine.Name}: its disk is gone (simulated)"));

        public Task<WrapperState> LookAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task WaitAsync(RunFiles files, RunProcess process, TimeSpan most, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task StopAsync(RunFiles files, RunProcess process, string reason, TimeSpan grace, CancellationToken cancellationToken = default) => Task.CompletedTask;

        public Task<ExecutionResult?> FinishAsync(RunFiles files, RunProcess process, Machine machine, CancellationToken cancellationToken = default) => Task.FromResult<ExecutionResult?>(null);

        public Task ForgetAsync(RunFiles files, RunProcess process, CancellationToken cancellationToken = default) => Task.CompletedTask;
    }
}
