using System.Diagnostics;
using System.Globalization;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Bench;

/// <summary>
/// <c>testdispatch grep</c> and <c>testdispatch diff</c> as users run them (the binary, on a real state dir), against the
/// baselines measured in the same run: GNU grep -r and rg over the same logs (runs/*/output.log) for each case of the grep
/// benchmark, and GNU diff -u on the same two logs. The store is built through the store's writers (as the history
/// benchmark builds it), every run with a log. Wall time (median), hits, peak memory (GNU time's %M); figures, not assertions.
/// </summary>
internal static class LookbackBenchmark
{
    public static int Run(BenchArgs args)
    {
        string binary = DispatchBenchmark.LocateBinary(args.String("testdispatch"));
        int runs = args.Int("runs") ?? 10_000;
        int totalMb = args.Int("mb") ?? 1024;
        int diffMb = args.Int("diff-mb") ?? 100;
        int repeats = args.Int("repeats") ?? 3;
        string root = args.String("dir") ?? Path.Combine(Path.GetTempPath(), $"td-lookback-bench-{Environment.ProcessId}");
        bool keep = args.Flag("keep");
        args.RejectUnused();
        bool haveRg = GrepBenchmark.OnPath("rg");
        Console.WriteLine($"lookback benchmark: {binary}; {runs:N0} runs, ~{totalMb:N0} MB of logs; diff of 2 × ~{diffMb} MB; {Environment.ProcessorCount} cores; " +
            $"load {SyntheticRuns.LoadAverage()}");
        Console.WriteLine($"  {GrepBenchmark.Version("grep")}; {(haveRg ? GrepBenchmark.Version("rg") : "rg not installed")}; {GrepBenchmark.Version("diff")}");
        try
        {
            LabSandbox lab = new(binary, root, "10m");
            Stopwatch generating = Stopwatch.StartNew();
            HistoryBenchmark.Generate(lab, runs, new StoreOptions().SegmentRuns);
            Run[] all = [.. lab.View.StreamRuns(RunFilter.All)];
            long bytes = GrepBenchmark.WriteLogs([.. all.Select(r => r.LogsPath)], totalMb * 1024L * 1024);
            string logs = lab.Paths.RunsDir;
            Console.WriteLine($"  generated {all.Length:N0} runs with {bytes / 1e6:N0} MB of logs in {generating.Elapsed.TotalSeconds:0.0} s under {root}");
            GrepBenchmark.Warm(logs);
            Grep(lab, logs, repeats, haveRg);
            Diff(lab, all, diffMb, repeats);
        }
        finally
        {
            if (!keep)
            {
                try { Directory.Delete(root, recursive: true); } catch (IOException) { }
            }
        }
        return 0;
    }

    private static void Grep(LabSandbox lab, string logs, int repeats, bool haveRg)
    {
        string[] td = [.. TestDispatch(lab), "grep"];
        TextTable table = new("case", "grep -r", "rg", "testdispatch grep", "ours/grep", "ours/rg", "hits grep/rg/ours", "peak MiB grep/ours");
        foreach (GrepBenchmark.Case c in GrepBenchmark.Cases)
        {
            string[] ours = [.. td, .. c.Options.FixedString ? ["-F"] : Array.Empty<string>(), .. c.Options.IgnoreCase ? ["-i"] : Array.Empty<string>(),
                .. c.Options.FilesWithMatches ? ["-l"] : Array.Empty<string>(), "--", c.Pattern];
            string[] grep = ["grep", "-r", "-n", .. c.GrepArgs, "--", c.Pattern, logs];
            string[] rg = ["rg", "-n", "--no-heading", "--no-ignore", "--hidden", "--no-config", .. c.RgArgs, "--", c.Pattern, logs];
            GrepBenchmark.Timing grepTime = GrepBenchmark.Median(repeats, () => GrepBenchmark.External(grep[0], grep[1..]));
            GrepBenchmark.Timing rgTime = haveRg ? GrepBenchmark.Median(repeats, () => GrepBenchmark.External(rg[0], rg[1..])) : GrepBenchmark.Timing.None;
            GrepBenchmark.Timing ourTime = GrepBenchmark.Median(repeats, () => GrepBenchmark.External(ours[0], ours[1..]));
            table.Add(c.Name, grepTime.Show(), rgTime.Show(), ourTime.Show(), ourTime.Ratio(grepTime), ourTime.Ratio(rgTime),
                $"{grepTime.Hits}/{rgTime.Hits}/{ourTime.Hits}", $"{Peak(grep):0}/{Peak(ours):0}");
        }
        Console.WriteLine();
        Console.WriteLine("  grep: each cell median wall s / its CPU s (user+system) of the whole process, start-up included; ratios wall / CPU");
        table.Write(Console.Out);
    }

    /// <summary>The newest run fails with the failing log of the diff benchmark; the one before it passed with the passing one.</summary>
    private static void Diff(LabSandbox lab, Run[] newestFirst, int mb, int repeats)
    {
        (Run failing, Run passing) = (newestFirst[0], newestFirst[1]);
        long lines = DiffBenchmark.Generate(passing.LogsPath, failing.LogsPath, mb * 1024L * 1024);
        string[] ours = [.. TestDispatch(lab), "diff", failing.Id, passing.Id];
        string[] diff = ["diff", "-u", passing.LogsPath, failing.LogsPath];
        GrepBenchmark.Timing oursTime = GrepBenchmark.Median(repeats, () => GrepBenchmark.External(ours[0], ours[1..]));
        GrepBenchmark.Timing diffTime = GrepBenchmark.Median(repeats, () => GrepBenchmark.External(diff[0], diff[1..]));
        TextTable table = new("tool", "wall s / CPU s", "lines of output", "peak MiB");
        table.Add("testdispatch diff (volatile tokens folded)", oursTime.Show(), $"{oursTime.Hits:N0}", $"{Peak(ours):0}");
        table.Add("GNU diff -u (byte for byte)", diffTime.Show(), $"{diffTime.Hits:N0}", $"{Peak(diff):0}");
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  diff: two logs of {new FileInfo(passing.LogsPath).Length / 1e6:N0} MB ({lines:N0} lines each, every line's volatile tokens different, 5 real changes); "
            + $"ours/diff wall {oursTime.Ratio(diffTime)}"));
        table.Write(Console.Out);
    }

    private static string[] TestDispatch(LabSandbox lab) => [lab.Binary, "--config", lab.ConfigFile, "--state-dir", lab.StateDir];

    /// <summary>Peak resident memory of one call, in MiB (its output thrown away).</summary>
    private static double Peak(string[] command) =>
        HistoryBenchmark.PeakMiB(string.Join(' ', command.Select(a => $"'{a.Replace("'", "'\\''", StringComparison.Ordinal)}'")) + " > /dev/null");
}
