using System.Globalization;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;

using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// Runs outlive agents: one batch of slow tests over the two local machines, once undisturbed and once while the agent
/// is SIGKILLed again and again at random moments (the waiting <c>batch submit --wait</c> starts a new one each time, as
/// any client does). Prints how many entries completed, were lost or retried, and the wall time against the undisturbed
/// batch. Asserts nothing.
/// </summary>
internal static class AdoptionBenchmark
{
    public static int Run(BenchArgs args)
    {
        int tests = args.Int("tests", min: 2) ?? 50;
        double seconds = args.Int("seconds", min: 1) ?? 10;
        int kills = args.Int("kills", min: 1) ?? 10;
        string binary = DispatchBenchmark.LocateBinary(args.String("testdispatch"));
        bool keep = args.Flag("keep");
        args.RejectUnused();
        string root = Directory.CreateTempSubdirectory("tdadopt-").FullName;
        try
        {
            Progress($"{tests} tests of {seconds:0}s over 2 machines, undisturbed (about {tests * seconds / 2:0}s)");
            Result calm = RunBatchAsync(new LabSandbox(binary, Path.Combine(root, "calm"), "30s"), tests, seconds, kills: 0).GetAwaiter().GetResult();
            Progress($"the same, with the agent SIGKILLed {kills} times at random");
            Result killed = RunBatchAsync(new LabSandbox(binary, Path.Combine(root, "killed"), "30s"), tests, seconds, kills).GetAwaiter().GetResult();

            TextTable table = new("batch", "agent kills", "completed", "agent_lost", "retries", "other", "wall s", "vs undisturbed");
            foreach ((string name, Result r) in new[] { ("undisturbed", calm), ("agent SIGKILLed", killed) })
            {
                table.Add(name, Int(r.Kills), $"{r.Completed}/{tests}", Int(r.AgentLost), Int(r.Retries), Int(r.Other),
                    (r.WallMs / 1000).ToString("F1", CultureInfo.InvariantCulture), (r.WallMs / calm.WallMs).ToString("F2", CultureInfo.InvariantCulture) + "x");
            }
            Console.WriteLine($"Re-adoption: {tests} tests of {seconds:0}s in one batch over 2 local machines");
            table.Write(Console.Out);
            Console.WriteLine($"target: {tests}/{tests} completed, 0 agent_lost, 0 retries while the agent is killed: " +
                (killed is { AgentLost: 0, Retries: 0 } && killed.Completed == tests ? "MET" : "NOT MET"));
            return 0;
        }
        finally
        {
            if (!keep)
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static async Task<Result> RunBatchAsync(LabSandbox lab, int tests, double seconds, int kills)
    {
        string tests_ = Path.Combine(lab.Root, "tests");
        List<string> entries = [];
        for (int i = 0; i < tests; i++)
        {
            string dir = Path.Combine(tests_, $"slow-{i:00}");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "run.sh"), $"#!/bin/sh\n# test {i}\necho start\nsleep {seconds.ToString(CultureInfo.InvariantCulture)}\necho end\n");
            File.SetUnixFileMode(Path.Combine(dir, "run.sh"), (UnixFileMode)0b111_101_101);
            entries.Add($$"""{ "test_dir": "tests/slow-{{i:00}}", "tags": ["local"], "retries": 2 }""");
        }
        string plan = Path.Combine(lab.Root, "plan.json");
        File.WriteAllText(plan, $$"""{ "name": "adoption", "entries": [ {{string.Join(",", entries)}} ] }""");

        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        Task<CliCall> batch = LabSandbox.TimeAsync(lab.Command(["batch", "submit", plan, "--wait", "--json"]));
        int killed = 0;
        double span = tests * seconds / 2 * 1000;
        Random random = new(42);
        // Random moments over the batch's undisturbed span, sorted.
        foreach (double at in Enumerable.Range(0, kills).Select(_ => random.NextDouble() * span * 0.9).Order())
        {
            double wait = at - System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (wait > 0)
            {
                await Task.WhenAny(batch, Task.Delay(TimeSpan.FromMilliseconds(wait)));
            }
            if (batch.IsCompleted)
            {
                break;
            }
            if (lab.LiveAgentPid() is { } pid && Libc.Kill(pid, Libc.SIGKILL) == 0)
            {
                killed++;
                Progress($"killed agent {pid} at {System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds:0.0}s");
            }
        }
        CliCall done = await batch;
        double wall = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Batch result = JsonSerializer.Deserialize(done.Stdout, ContractJson.Default.Batch)
            ?? throw new InvalidOperationException($"batch submit printed no batch: {done.Stderr}");
        IReadOnlyList<Run> runs = lab.View.Runs(new RunFilter(BatchId: result.Id));
        await lab.StopAgentsAsync();
        return new Result(killed, result.Counts.Completed, runs.Count(r => r.ErrorCode == ErrorCodes.AgentLost),
            result.Items!.Sum(i => i.Attempts - 1), runs.Count(r => r.Status != RunStatus.Completed && r.ErrorCode != ErrorCodes.AgentLost), wall);
    }

    private sealed record Result(int Kills, int Completed, int AgentLost, int Retries, int Other, double WallMs);

    private static void Progress(string what) => Console.Error.WriteLine($"[bench] {what}");
}
