using System.Diagnostics;
using System.Globalization;
using System.IO.Abstractions;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// History at scale. By default (issue 35) its stores are made through the real path, one <c>batch submit --wait</c> each
/// (<see cref="RealBatchStores"/>). With --sizes (issue 16) it builds stores of that many runs through the store's own writers (history segments
/// by History.AddSegment, the hot snapshot by SnapshotFile, as compaction writes them), then times the commands every
/// script uses with the native binary (hyperfine), and peak memory (/usr/bin/time), and a --wait client's peak memory on
/// a 20k-entry batch. Prints a table; figures, not assertions.
/// </summary>
internal static class HistoryBenchmark
{
    private static readonly string[] LocalTags = ["local"];
    private static readonly FileSystem Fs = new();

    public static int Run(BenchArgs args)
    {
        string binary = DispatchBenchmark.LocateBinary(args.String("testdispatch"));
        IReadOnlyList<int>? sizes = args.IntList("sizes", min: 0);
        IReadOnlyList<int> batches = args.IntList("batches") ?? (sizes is null ? [2_000] : []);
        sizes ??= [];
        int runs = args.Int("runs") ?? 10;
        int batchEntries = args.Int("batch") ?? 20_000;
        int segmentRuns = args.Int("segment-runs") ?? new StoreOptions().SegmentRuns; // as compaction writes them
        string root = args.String("dir") ?? Path.Combine(Path.GetTempPath(), $"td-history-bench-{Environment.ProcessId}");
        bool keep = args.Flag("keep");
        args.RejectUnused();
        if (batches.Count > 0)
        {
            try
            {
                RealBatchStores.Run(binary, Path.Combine(root, "real"), batches, runs);
            }
            finally
            {
                if (!keep && sizes.Count == 0)
                {
                    try { Directory.Delete(root, recursive: true); } catch (IOException) { }
                }
            }
            if (sizes.Count == 0)
            {
                return 0;
            }
        }
        RequireTool("hyperfine");
        RequireTool("/usr/bin/time");
        Console.WriteLine($"history benchmark: {binary}; sizes {string.Join(", ", sizes)}; load {SyntheticRuns.LoadAverage()}; {Environment.ProcessorCount} cores");
        TextTable table = new("runs in store", "generate s", "state dir", "run --wait ms", "machines ms", "show <prefix> ms",
            "runs --limit 50 ms", "runs --status failed --json | wc -l ms", "lines", "runs --limit 50 peak MiB", "failed|wc peak MiB",
            "agent peak MiB", "wait 20k batch peak MiB");
        try
        {
            foreach (int size in sizes)
            {
                LabSandbox lab = new(binary, Path.Combine(root, $"{size}"), "10m");
                Stopwatch generating = Stopwatch.StartNew();
                string oldId = Generate(lab, size, segmentRuns);
                double generated = generating.Elapsed.TotalSeconds;
                string test = MakeTest(lab.Root);
                Call(lab, "run", test, "--machine", "local-1", "--wait"); // the agent is up for the timed calls
                string prefix = (oldId.Length > 0 ? oldId : lab.View.Store.List(new RunFilter(Limit: 1)).Single().Id)[..8];
                string td = $"{binary} --config {lab.ConfigFile} --state-dir {lab.StateDir}";
                string failedJson = $"{td} runs --status failed --json | wc -l";
                double[] ms = Hyperfine(lab.Root, runs,
                    $"{td} run {test} --machine local-1 --wait",
                    $"{td} machines",
                    $"{td} show {prefix}",
                    $"{td} runs --limit 50",
                    failedJson);
                string lines = Shell(failedJson).Trim();
                double limitPeak = PeakMiB($"{td} runs --limit 50 > /dev/null");
                double failedPeak = PeakMiB($"{failedJson} > /dev/null");
                double agentPeak = AgentPeakMiB(lab);
                double waitPeak = WaitClientPeak(lab, batchEntries);
                table.Add($"{size:N0}", $"{generated:0.0}", ByteSize.Format(DirSize(lab.StateDir)), Ms(ms[0]), Ms(ms[1]), Ms(ms[2]), Ms(ms[3]), Ms(ms[4]),
                    lines, Ms(limitPeak), Ms(failedPeak), Ms(agentPeak), Ms(waitPeak));
                Call(lab, "batch", "cancel", lab.View.Store.Batches(limit: 1).Single().Id);
                StopAgent(lab);
                Console.WriteLine($"  done {size:N0}");
            }
        }
        finally
        {
            if (!keep)
            {
                try { Directory.Delete(root, recursive: true); } catch (IOException) { }
            }
        }
        Console.WriteLine();
        table.Write(Console.Out);
        Console.WriteLine();
        Console.WriteLine($"  times: hyperfine median of {runs} runs after 2 warm-ups, native binary, agent already up; peak: /usr/bin/time %M of one call.");
        Console.WriteLine("  agent peak: VmHWM of the agent after the timed calls (it served all of them), before the 20k batch.");
        Console.WriteLine($"  wait 20k batch: max VmHWM of 'batch submit --wait' on a {batchEntries}-entry plan of a trivial test, sampled for 20 s of its run.");
        Console.WriteLine($"  stores generated in history segments of {segmentRuns:N0} runs (as compaction writes them) + the hot snapshot; 1 in 5 runs failed; 200 logs of 64 KiB.");
        return 0;
    }

    /// <summary>Builds a store of <paramref name="size"/> ended runs; returns the id of its oldest run ("" when empty).</summary>
    internal static string Generate(LabSandbox lab, int size, int segmentRuns)
    {
        Directory.CreateDirectory(lab.StateDir);
        StatePaths paths = lab.Paths;
        _ = new RunStore(Fs, new FlockFileLocks(), lab.StateDir); // makes the state dir as the CLI would
        Durability durability = new(LibcFsync.Instance);
        History history = new(Fs, paths, durability);
        HistoryIndex index = history.ReadIndex();
        RunSpec spec = new(["./run.sh"], TimeSpan.FromMinutes(30));
        DateTimeOffset epoch = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(3L * size + 60);
        const int Recent = 500;
        List<RunRecord> chunk = new(segmentRuns);
        List<RunRecord> hot = [];
        string oldest = "";
        HashSet<string> ids = new(StringComparer.Ordinal);
        for (long seq = 1; seq <= size; seq++)
        {
            string id;
            do { id = RunIds.New(); } while (!ids.Add(id));
            RunStatus status = seq % 5 == 0 ? RunStatus.Failed : seq % 97 == 0 ? RunStatus.Timeout : RunStatus.Completed;
            RunRecord record = SyntheticRuns.Record(paths, id, seq, LabSandbox.Machines[seq % 2], $"/lab/tests/suite-{seq % 40}", status, spec, epoch);
            oldest = seq == 1 ? id : oldest;
            if (seq > size - Recent)
            {
                hot.Add(record);
                continue;
            }
            chunk.Add(record);
            if (chunk.Count == segmentRuns)
            {
                index = history.AddSegment(index, [], chunk);
                chunk.Clear();
            }
        }
        if (chunk.Count > 0)
        {
            index = history.AddSegment(index, [], chunk);
        }
        history.RemoveLeftovers(index);
        new SnapshotFile(Fs, paths, durability).Write(new Snapshot(1, hot, [], size, 0));
        // Logs of realistic size for a sample of runs.
        byte[] log = new byte[64 * 1024];
        Array.Fill(log, (byte)'x');
        foreach (RunRecord record in hot.Take(200))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(record.Run.LogsPath)!);
            File.WriteAllBytes(record.Run.LogsPath, log);
        }
        return oldest;
    }

    private static string MakeTest(string root)
    {
        string dir = Path.Combine(root, "tests", "pass");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "run.sh"), "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(Path.Combine(dir, "run.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    private static string Call(LabSandbox lab, params string[] args) =>
        lab.Command(args).ExecuteBufferedAsync().GetAwaiter().GetResult().StandardOutput;

    private static string Shell(string script) =>
        Cli.Wrap("sh").WithArguments(["-c", script]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult().StandardOutput;

    /// <summary>Stops before generating a store when a tool the figures need is missing, naming the package that brings it.</summary>
    private static void RequireTool(string tool)
    {
        bool found = tool.Contains('/', StringComparison.Ordinal)
            ? File.Exists(tool)
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, tool)));
        if (!found)
        {
            string package = tool == "/usr/bin/time" ? "time" : tool;
            throw new BenchUsageException($"the history benchmark needs '{tool}' and it is not installed; install it with 'apt-get install {package}'");
        }
    }

    private static double[] Hyperfine(string root, int runs, params string[] commands)
    {
        string export = Path.Combine(root, "hyperfine.json");
        BufferedCommandResult result = Cli.Wrap("hyperfine").WithArguments(["-N", "--warmup", "2", "--runs", $"{runs}", "--export-json", export, "--style", "none",
                .. commands.Select(c => c.Contains('|', StringComparison.Ordinal) ? $"sh -c '{c}'" : c)])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult();
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"hyperfine failed: {result.StandardError}");
        }
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(export));
        return [.. json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("median").GetDouble() * 1000)];
    }

    /// <summary>Peak resident set of the testdispatch process of <paramref name="script"/>, in MiB (GNU time's %M).</summary>
    internal static double PeakMiB(string script)
    {
        BufferedCommandResult result = Cli.Wrap("/usr/bin/time").WithArguments(["-f", "%M", "sh", "-c", script.Replace(" | wc -l", "", StringComparison.Ordinal)])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult();
        string last = result.StandardError.Trim().Split('\n')[^1];
        return long.Parse(last, CultureInfo.InvariantCulture) / 1024.0;
    }

    /// <summary>Submits a plan of <paramref name="entries"/> trivial tests with --wait, samples the waiter's peak for 20 s, stops it.</summary>
    private static double WaitClientPeak(LabSandbox lab, int entries)
    {
        string test = Path.Combine(lab.Root, "tests", "pass");
        string plan = Path.Combine(lab.Root, "plan-20k.json");
        File.WriteAllText(plan, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["name"] = "big",
            ["entries"] = Enumerable.Range(0, entries).Select(i => new Dictionary<string, object>
            {
                ["name"] = $"t{i}",
                ["test_dir"] = test,
                ["tags"] = LocalTags,
            }).ToList(),
        }));
        using Process waiter = Process.Start(new ProcessStartInfo(lab.Binary, ["--config", lab.ConfigFile, "--state-dir", lab.StateDir, "batch", "submit", plan, "--wait"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        long peak = 0;
        Stopwatch watching = Stopwatch.StartNew();
        while (watching.Elapsed < TimeSpan.FromSeconds(20) && !waiter.HasExited)
        {
            if (ProcMemory.Read(waiter.Id) is { } memory)
            {
                peak = Math.Max(peak, memory.HwmKiB);
            }
            Thread.Sleep(100);
        }
        if (!waiter.HasExited)
        {
            waiter.Kill();
        }
        waiter.WaitForExit();
        return peak / 1024.0;
    }

    private static void StopAgent(LabSandbox lab)
    {
        try
        {
            using Process agent = Process.GetProcessById(AgentPid(lab));
            agent.Kill();
            agent.WaitForExit(10_000);
        }
        catch (ArgumentException)
        {
        }
    }

    /// <summary>The agent's peak resident memory so far (VmHWM), in MiB.</summary>
    private static double AgentPeakMiB(LabSandbox lab) => ProcMemory.Read(AgentPid(lab)) is { } memory ? memory.HwmKiB / 1024.0 : double.NaN;

    /// <summary>The pid of the last agent started, from agent.log.</summary>
    private static int AgentPid(LabSandbox lab)
    {
        foreach (string line in File.ReadLines(lab.Paths.AgentLog).Reverse())
        {
            if (System.Text.RegularExpressions.Regex.Match(line, @"agent (\d+) started on") is { Success: true } started)
            {
                return int.Parse(started.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    private static long DirSize(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
}
