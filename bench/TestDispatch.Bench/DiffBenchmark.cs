using System.Diagnostics;
using System.Globalization;
using System.Text;
using TestDispatch.Engine.Logs;

namespace TestDispatch.Bench;

/// <summary>
/// <c>testdispatch diff</c>'s engine on two generated logs of ~100 MB each: the same test run twice (every timestamp,
/// pid, temp dir, id and duration differs) with five real changes in B. Each comparison runs in a fresh process, so
/// its peak resident memory (VmHWM) is its own; an empty child gives the runtime's share. Figures, not assertions.
/// </summary>
internal static class DiffBenchmark
{
    public const string OnceCommand = "diff-once";

    public static int Run(BenchArgs args)
    {
        int mb = args.Int("mb") ?? 100;
        int repeats = args.Int("runs") ?? 1;
        string root = args.String("dir") ?? Path.Combine(Path.GetTempPath(), $"td-diff-bench-{Environment.ProcessId}");
        bool keep = args.Flag("keep");
        args.RejectUnused();
        Console.WriteLine($"diff benchmark: 2 logs of ~{mb} MB; {Environment.ProcessorCount} cores; load {SyntheticRuns.LoadAverage()}");
        try
        {
            Directory.CreateDirectory(root);
            string a = Path.Combine(root, "passing.log"), b = Path.Combine(root, "failing.log");
            Stopwatch generating = Stopwatch.StartNew();
            long lines = Generate(a, b, mb * 1024L * 1024);
            Console.WriteLine($"  generated {new FileInfo(a).Length / 1e6:N0} + {new FileInfo(b).Length / 1e6:N0} MB ({lines:N0} lines each) in {generating.Elapsed.TotalSeconds:0.0} s");
            Console.WriteLine($"  runtime alone (empty child): {Once(["--baseline"]).Trim()}");
            for (int i = 0; i < repeats; i++)
            {
                Console.WriteLine($"  process {i + 1}:");
                Console.Write(Once([a, b]));
            }
            Console.WriteLine("  the same without folding:");
            Console.Write(Once([a, b, "--no-fold"]));
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

    /// <summary>In a fresh process: one comparison, printed as figures (or nothing but memory with --baseline).</summary>
    public static int RunOnce(IReadOnlyList<string> args)
    {
        if (args.Count == 1 && args[0] == "--baseline")
        {
            Console.WriteLine(Peak());
            return 0;
        }
        if (args.Count is < 2 or > 3)
        {
            throw new BenchUsageException($"{OnceCommand} takes two logs and optionally --no-fold");
        }
        LogDiffOptions options = new(FoldVolatile: args.Count == 2);
        // First in a fresh JIT process (tier-0 code until the runtime recompiles the hot loops), then warm: the
        // released CLI is native (AOT), fully compiled from its start, so the warm figure is nearer what users see.
        foreach (string pass in new[] { "cold", "warm" })
        {
            double cpuStart = CpuClock.ProcessMs();
            long start = Stopwatch.GetTimestamp();
            LogDiffResult diff = LogDiff.Compare(args[0], args[1], options);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double cpu = (CpuClock.ProcessMs() - cpuStart) / 1000;
            string rendered = UnifiedDiff.Render(diff, "a", "b");
            string reason = diff.Reason is null ? "" : $" ({diff.Reason})";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    {pass}: {seconds:0.00} s wall, {cpu:0.00} s CPU, {Peak()} so far, GC heap {GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0:0} MiB; "
                + $"{diff.Outcome}: {diff.Hunks.Count} hunks, -{diff.Removed} +{diff.Added} lines, prefix {diff.CommonPrefixLines:N0}, "
                + $"middle {diff.MiddleLinesA:N0}/{diff.MiddleLinesB:N0}, suffix {diff.CommonSuffixLines:N0} lines; {rendered.Length:N0} chars of diff{reason}"));
        }
        return 0;
    }

    private static string Peak() => FreshProcess.Peak();

    private static string Once(IReadOnlyList<string> arguments) => FreshProcess.Run(OnceCommand, arguments);

    /// <summary>Passing and failing logs of one test: the same lines in another run, with five changes in the failing one.</summary>
    internal static long Generate(string pathA, string pathB, long bytes)
    {
        long lines = 0;
        using (StreamWriter a = new(pathA, false, new UTF8Encoding(false), 1 << 20))
        {
            SyntheticLog log = new(contentSeed: 42, runSeed: 1);
            for (long written = 0; written < bytes; lines++)
            {
                string line = log.NextLine();
                a.Write(line);
                a.Write('\n');
                written += Encoding.UTF8.GetByteCount(line) + 1;
            }
        }
        using (StreamWriter b = new(pathB, false, new UTF8Encoding(false), 1 << 20))
        {
            SyntheticLog log = new(contentSeed: 42, runSeed: 2);
            for (long i = 0; i < lines; i++)
            {
                string line = log.NextLine();
                if (i == (long)(0.10 * lines))
                {
                    line = "ERROR [harness] assertion failed: expected 3 frames, got 4";
                }
                else if (i == (long)(0.30 * lines))
                {
                    b.Write("Traceback (most recent call last):\n  File \"/src/harness/power.py\", line 88, in cycle\n"
                        + "    rail.wait_stable(timeout=5)\n  File \"/src/harness/rail.py\", line 41, in wait_stable\nTimeoutError: rail 3 not stable\n");
                }
                else if (i >= (long)(0.50 * lines) && i < (long)(0.50 * lines) + 3)
                {
                    continue; // three lines the failing run never wrote
                }
                else if (i == (long)(0.70 * lines))
                {
                    line = "WARN  [power] rail 3 at 3350 mV (limit 3300 mV)";
                }
                else if (i == (long)(0.95 * lines))
                {
                    b.Write("FAIL tests/power/test_cycle.py::test_case_17[size=64] 5.001s\n");
                }
                b.Write(line);
                b.Write('\n');
            }
        }
        return lines;
    }
}
