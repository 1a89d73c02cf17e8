using System.Diagnostics;
using System.Globalization;
using System.Text;
using TestDispatch.Engine.Results;

namespace TestDispatch.Bench;

/// <summary>
/// What the agent does with a run's results once it is over, on generated JUnit reports of the sizes asked for (1 MB and
/// 200 MB by default): find them and stream their cases to results.jsonl (RunResults.Collect), then the case index line
/// from it; against a baseline that holds every case in memory before writing (how the agent read them before). Each is
/// read in a fresh process, so its peak resident memory (VmHWM) is its own; an empty child gives the runtime's share.
/// The reports: about 1 KB per case (a tenth failing with a traceback, every case with some system-out). Figures, not assertions.
/// </summary>
internal static class ResultsBenchmark
{
    public const string OnceCommand = "results-once";
    private const string HeldFlag = "--held";

    public static int Run(BenchArgs args)
    {
        IReadOnlyList<int> sizes = args.IntList("mb") ?? [1, 200];
        string root = args.String("dir") ?? Path.Combine(Path.GetTempPath(), $"td-results-bench-{Environment.ProcessId}");
        bool keep = args.Flag("keep");
        args.RejectUnused();
        Console.WriteLine($"results benchmark: reading a run's JUnit reports; {Environment.ProcessorCount} cores; load {SyntheticRuns.LoadAverage()}");
        try
        {
            Console.WriteLine($"  runtime alone (empty child): {FreshProcess.Run(OnceCommand, ["--baseline"]).Trim()}");
            foreach (int mb in sizes)
            {
                string run = Path.Combine(root, $"run-{mb}mb");
                Directory.CreateDirectory(Path.Combine(run, "artifacts"));
                int cases = Generate(Path.Combine(run, "artifacts", "junit.xml"), mb * 1024L * 1024);
                Console.WriteLine($"  {mb} MB report ({cases:N0} cases), streamed to results.jsonl:");
                Console.Write(FreshProcess.Run(OnceCommand, [run]));
                Console.WriteLine($"  {mb} MB report, baseline: every case held in memory, then written:");
                Console.Write(FreshProcess.Run(OnceCommand, [run, HeldFlag]));
            }
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

    /// <summary>In a fresh process: the run's results read and kept, cold (JIT) then warm, as figures.</summary>
    public static int RunOnce(IReadOnlyList<string> args)
    {
        if (args is ["--baseline"])
        {
            Console.WriteLine(FreshProcess.Peak());
            return 0;
        }
        if (args is not ([_] or [_, HeldFlag]))
        {
            throw new BenchUsageException($"{OnceCommand} takes a run directory, and {HeldFlag} for the baseline");
        }
        string run = args[0];
        bool held = args.Count == 2;
        foreach (string pass in new[] { "cold", "warm" })
        {
            double cpuStart = CpuClock.ProcessMs();
            long start = Stopwatch.GetTimestamp();
            string kept = Path.Combine(run, ResultsFile.FileName);
            RunResults results = held ? Held(Path.Combine(run, "artifacts"), kept) : RunResults.Collect(Path.Combine(run, "artifacts"), kept);
            new CaseIndex(Path.Combine(run, CaseIndex.FileName)).Append(
                CaseIndexEntry.Of("run", "/tests/t", "hash", "m", DateTimeOffset.UtcNow, []), ResultsFile.Stream(kept).Select(CaseOutcome.Of));
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double cpu = (CpuClock.ProcessMs() - cpuStart) / 1000;
            long jsonl = new FileInfo(Path.Combine(run, ResultsFile.FileName)).Length;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    {pass}: {seconds:0.000} s wall, {cpu:0.000} s CPU, {FreshProcess.Peak()} so far, GC heap {GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0:0} MiB; "
                + $"{results.Counts.Total:N0} cases ({results.Counts.Failed:N0} failed), results.jsonl {jsonl / 1048576.0:0.0} MiB, {results.Errors.Count} errors"));
        }
        return 0;
    }

    /// <summary>The baseline, as the agent read results before they were streamed: every report's cases in a list, then written.</summary>
    private static RunResults Held(string artifacts, string kept)
    {
        List<TestCase> cases = [.. ResultsFinder.Find(artifacts).SelectMany(r => JUnitReport.Read(r.Path, r.Name).Cases)];
        ResultsFile.Write(kept, cases);
        return new RunResults(TestCounts.Of(cases), [.. cases.Where(c => CaseHistory.IsFailure(c.Status))], []);
    }

    /// <summary>A report of about <paramref name="bytes"/>: cases of ~1 KB, every tenth failing with a traceback.</summary>
    private static int Generate(string path, long bytes)
    {
        using StreamWriter writer = new(path, false, new UTF8Encoding(false), 1 << 20);
        writer.Write("""<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">""");
        int i = 0;
        for (; writer.BaseStream.Position < bytes; i++)
        {
            writer.Write(string.Create(CultureInfo.InvariantCulture, $"""<testcase classname="tests.power.test_rail{i / 100}" name="test_case_{i}[size=64]" time="0.{i % 1000:000}">"""));
            if (i % 10 == 0)
            {
                writer.Write("""<failure message="AssertionError: rail 3 at 3350 mV (limit 3300 mV)">Traceback (most recent call last):&#10;""");
                writer.Write("""  File "/src/harness/power.py", line 88, in cycle&#10;    rail.wait_stable(timeout=5)&#10;AssertionError: rail 3 &lt;not stable&gt;</failure>""");
            }
            writer.Write("<system-out>");
            for (int line = 0; line < 8; line++)
            {
                writer.Write(string.Create(CultureInfo.InvariantCulture, $"[{i:000000}.{line}] INFO power: rail {line} at 3300 mV, stable\n"));
            }
            writer.Write("</system-out></testcase>");
        }
        writer.Write("</testsuite></testsuites>");
        return i;
    }
}
