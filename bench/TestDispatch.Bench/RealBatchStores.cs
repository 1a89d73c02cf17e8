using System.Diagnostics;
using System.Text.Json;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Storage;

using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// The history benchmark's stores made the way users make them (issue 35): each a fresh state dir where one
/// <c>batch submit --wait</c> of N trivial entries ran over the 2 local machines through the agent. Prints what the hot
/// state holds after it, in bytes, and the commands every script uses timed on it against an empty store in the same run
/// (the calls alternate between the two stores, so load drift hits both alike).
/// </summary>
internal static class RealBatchStores
{
    private static readonly string[] LocalTags = ["local"];

    public static void Run(string binary, string root, IReadOnlyList<int> batches, int runs)
    {
        Console.WriteLine($"real batches: {string.Join(", ", batches)} entries; load {SyntheticRuns.LoadAverage()}; {Environment.ProcessorCount} cores; {binary}");
        LabSandbox empty = new(binary, Path.Combine(root, "empty"), "10m");
        string emptyTest = MakeTest(empty.Root);
        Call(empty, "run", emptyTest, "--machine", "local-1", "--wait"); // the agent is up for the timed calls, as on the others
        TextTable table = new("store", "batch s", "snapshot", "snapshot runs", "journal", "batch files", "hot total",
            "machines ms", "ratio", "cpu", "runs --limit 50 ms", "ratio", "cpu", "show ms", "ratio", "cpu", "run --wait ms", "ratio", "cpu");
        try
        {
            foreach (int entries in batches)
            {
                LabSandbox lab = new(binary, Path.Combine(root, $"batch-{entries}"), "10m");
                string test = MakeTest(lab.Root);
                Stopwatch took = Stopwatch.StartNew();
                Call(lab, "batch", "submit", WritePlan(lab.Root, test, entries), "--wait");
                double batchSeconds = took.Elapsed.TotalSeconds;
                HotState hot = HotState.Of(lab.Paths);
                string emptyPrefix = empty.View.Store.List(new Engine.Runs.RunFilter(Limit: 1)).Single().Id[..8];
                string prefix = lab.View.Store.List(new Engine.Runs.RunFilter(Limit: 1)).Single().Id[..8];
                (string[] Args, string[] EmptyArgs)[] commands =
                [
                    (["machines"], ["machines"]),
                    (["runs", "--limit", "50"], ["runs", "--limit", "50"]),
                    (["show", prefix], ["show", emptyPrefix]),
                    (["run", test, "--machine", "local-1", "--wait"], ["run", emptyTest, "--machine", "local-1", "--wait"]),
                ];
                List<string> cells = [$"{Count(entries)} batch", $"{batchSeconds:0.0}", ByteSize.Format(hot.Snapshot), Int(hot.HotRuns),
                    ByteSize.Format(hot.Journal), ByteSize.Format(hot.BatchFiles), ByteSize.Format(hot.Total)];
                foreach ((string[] args, string[] emptyArgs) in commands)
                {
                    (Samples onEmpty, Samples onBatch, Samples cpuEmpty, Samples cpuBatch) = TimeBoth(empty, emptyArgs, lab, args, runs);
                    cells.Add(Ms(onBatch.Median));
                    cells.Add(Ratio(onBatch.Median / onEmpty.Median));
                    cells.Add(Ratio(cpuBatch.Median / cpuEmpty.Median));
                    Console.WriteLine($"  {Count(entries)} {args[0]}: {Ms(onBatch.Median)} ms vs {Ms(onEmpty.Median)} ms empty; CPU {Ms(cpuBatch.Median)} ms vs {Ms(cpuEmpty.Median)} ms");
                }
                table.Add([.. cells]);
                lab.StopAgentsAsync().GetAwaiter().GetResult();
            }
        }
        finally
        {
            empty.StopAgentsAsync().GetAwaiter().GetResult();
        }
        HotState emptyHot = HotState.Of(empty.Paths);
        Console.WriteLine();
        table.Write(Console.Out);
        Console.WriteLine();
        Console.WriteLine($"  each store: a fresh state dir, one 'batch submit --wait' of N entries of a test that exits 0, tags [local] (2 local machines).");
        Console.WriteLine($"  hot state: snapshot.json + journal.<gen>.jsonl + batches/*.json, what every command reads; the empty store's after its calls: {ByteSize.Format(emptyHot.Total)}.");
        Console.WriteLine($"  times: median of {runs} calls after 2 warm-ups, agent up, each call alternating with the same one on the empty store; ratio = batch / empty;\n" +
            "  cpu: the same ratio of the call's own user+system CPU time (less swayed by other load than wall time).");
    }

    /// <summary>Wall and CPU times of <paramref name="args"/> on each lab, calls alternating (warm-ups first).</summary>
    private static (Samples Empty, Samples Batch, Samples CpuEmpty, Samples CpuBatch) TimeBoth(LabSandbox empty, string[] emptyArgs, LabSandbox lab, string[] args, int runs)
    {
        Samples onEmpty = new(), onBatch = new(), cpuEmpty = new(), cpuBatch = new();
        for (int i = -2; i < runs; i++)
        {
            CliCall e = LabSandbox.TimeAsync(empty.Command(emptyArgs)).GetAwaiter().GetResult();
            CliCall b = LabSandbox.TimeAsync(lab.Command(args)).GetAwaiter().GetResult();
            if (e.ExitCode != 0 || b.ExitCode != 0)
            {
                throw new InvalidOperationException($"'{string.Join(' ', args)}' failed: {e.Stderr}{b.Stderr}");
            }
            if (i >= 0)
            {
                onEmpty.Add(e.Milliseconds);
                onBatch.Add(b.Milliseconds);
                cpuEmpty.Add(e.CpuMs);
                cpuBatch.Add(b.CpuMs);
            }
        }
        return (onEmpty, onBatch, cpuEmpty, cpuBatch);
    }

    private static string WritePlan(string root, string test, int entries)
    {
        string plan = Path.Combine(root, $"plan-{entries}.json");
        File.WriteAllText(plan, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["name"] = $"trivial-{entries}",
            ["entries"] = Enumerable.Range(0, entries).Select(i => new Dictionary<string, object>
            {
                ["name"] = $"t{i}",
                ["test_dir"] = test,
                ["tags"] = LocalTags,
            }).ToList(),
        }));
        return plan;
    }

    private static string MakeTest(string root)
    {
        string dir = Path.Combine(root, "tests", "pass");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "run.sh"), "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(Path.Combine(dir, "run.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    private static string Call(LabSandbox lab, params string[] args)
    {
        CliCall call = LabSandbox.TimeAsync(lab.Command(args)).GetAwaiter().GetResult();
        return call.ExitCode == 0 ? call.Stdout : throw new InvalidOperationException($"'{string.Join(' ', args)}' failed (exit {call.ExitCode}): {call.Stderr}");
    }

    /// <summary>What a state dir's hot state holds on disk: what every command reads.</summary>
    private sealed record HotState(long Snapshot, int HotRuns, long Journal, long BatchFiles)
    {
        public long Total => Snapshot + Journal + BatchFiles;

        public static HotState Of(StatePaths paths)
        {
            long snapshot = File.Exists(paths.Snapshot) ? new FileInfo(paths.Snapshot).Length : 0;
            int runs = 0;
            if (snapshot > 0)
            {
                using StreamReader reader = new(paths.Snapshot);
                using JsonDocument header = JsonDocument.Parse(reader.ReadLine()!);
                runs = header.RootElement.TryGetProperty("count", out JsonElement count) ? count.GetInt32()
                    : header.RootElement.TryGetProperty("runs", out JsonElement all) ? all.GetArrayLength() : 0;
            }
            long journal = Directory.EnumerateFiles(paths.Root, "journal.*.jsonl").Sum(f => new FileInfo(f).Length);
            long batchFiles = Directory.Exists(paths.BatchesDir) ? Directory.EnumerateFiles(paths.BatchesDir, "*.json").Sum(f => new FileInfo(f).Length) : 0;
            return new HotState(snapshot, runs, journal, batchFiles);
        }
    }
}
