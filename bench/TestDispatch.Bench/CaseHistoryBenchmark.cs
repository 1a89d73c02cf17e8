using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TestDispatch.Engine.Results;

namespace TestDispatch.Bench;

/// <summary>
/// <c>testdispatch history CASE</c> on case indexes (cases.jsonl) of the history sizes asked for (1k, 10k and 100k runs by
/// default; 1M with <c>--runs 1000,1000000</c>, which needs some GB of memory), each run with ten cases over fifty test dirs:
/// what the command does (<see cref="CaseIndex.Read"/> streaming the lines that may hold the case to <see cref="CaseHistory.Find"/>), in a fresh process per size, so
/// its peak resident memory (VmHWM) is its own. The smallest size is the baseline the others' times are a ratio to. Figures,
/// not assertions.
/// </summary>
internal static class CaseHistoryBenchmark
{
    public const string OnceCommand = "case-history-once";
    private const int CasesPerRun = 10;
    private const string Case = "test_rail2::test_case_7";
    private const string AbsentCase = "test_rail2::test_case_77";

    public static int Run(BenchArgs args)
    {
        IReadOnlyList<int> sizes = args.IntList("runs") ?? [1_000, 10_000, 100_000];
        string root = args.String("dir") ?? Path.Combine(Path.GetTempPath(), $"td-case-history-bench-{Environment.ProcessId}");
        bool keep = args.Flag("keep");
        args.RejectUnused();
        Console.WriteLine($"case history benchmark: 'history CASE' on cases.jsonl; {Environment.ProcessorCount} cores; load {SyntheticRuns.LoadAverage()}");
        Console.WriteLine($"  runtime alone (empty child): {FreshProcess.Run(OnceCommand, ["--baseline"]).Trim()}");
        double? baseline = null;
        try
        {
            foreach (int runs in sizes.Order())
            {
                string index = Path.Combine(root, $"cases-{runs}.jsonl");
                Directory.CreateDirectory(root);
                Generate(index, runs);
                string[] figures = FreshProcess.Run(OnceCommand, [index]).Trim().Split('\t');
                double warmMs = double.Parse(figures[0], CultureInfo.InvariantCulture);
                baseline ??= warmMs;
                Console.WriteLine($"  {Figures.Count(runs)} runs (cases.jsonl {Figures.MiB(new FileInfo(index).Length)}): {figures[1]}; " +
                    $"warm {Figures.Ms(warmMs)} ms, {Figures.Ratio(warmMs / baseline.Value)} the {Figures.Count(sizes.Min())} runs' time");
                File.Delete(index);
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

    /// <summary>In a fresh process: one case's history, cold (JIT) then warm; prints the warm time in ms, a tab, and the figures.</summary>
    public static int RunOnce(IReadOnlyList<string> args)
    {
        if (args is ["--baseline"])
        {
            Console.WriteLine(FreshProcess.Peak());
            return 0;
        }
        if (args is not [string index])
        {
            throw new BenchUsageException($"{OnceCommand} takes a cases.jsonl");
        }
        List<string> said = [];
        double warmMs = 0;
        foreach (string pass in new[] { "cold", "warm" })
        {
            double cpuStart = CpuClock.ProcessMs();
            long start = Stopwatch.GetTimestamp();
            CaseLookup found = CaseHistory.Find(new CaseIndex(index).Read(Case), Case);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            double cpu = CpuClock.ProcessMs() - cpuStart;
            warmMs = ms;
            said.Add($"{pass} {Figures.Ms(ms)} ms wall, {Figures.Ms(cpu)} ms CPU, {found.Runs.Count} runs found");
        }
        // A case no run had: every line is passed over by the prefilter, none parsed.
        double absentCpu = CpuClock.ProcessMs();
        long absentStart = Stopwatch.GetTimestamp();
        CaseLookup absent = CaseHistory.Find(new CaseIndex(index).Read(AbsentCase), AbsentCase);
        said.Add($"absent case {Figures.Ms(Stopwatch.GetElapsedTime(absentStart).TotalMilliseconds)} ms wall, " +
            $"{Figures.Ms(CpuClock.ProcessMs() - absentCpu)} ms CPU, {absent.Matches.Count} names found");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{warmMs:R}\t{string.Join("; ", said)}; {FreshProcess.Peak()}"));
        return 0;
    }

    /// <summary>A case index of <paramref name="runs"/> runs, oldest first, each with <see cref="CasesPerRun"/> cases, a tenth of them failing.</summary>
    private static void Generate(string path, int runs)
    {
        using FileStream stream = new(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        DateTimeOffset start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (int i = 0; i < runs; i++)
        {
            CaseOutcome[] cases = [.. Enumerable.Range(0, CasesPerRun).Select(c => new CaseOutcome(
                string.Create(CultureInfo.InvariantCulture, $"pytest::tests.power.test_rail{c % 5}::test_case_{c}"),
                (i + c) % 10 == 0 ? TestCaseStatus.Failed : TestCaseStatus.Passed, 0.25))];
            CaseIndexEntry entry = new(string.Create(CultureInfo.InvariantCulture, $"{i:x12}"), $"/lab/tests/suite{i % 50}",
                string.Create(CultureInfo.InvariantCulture, $"hash{i % 50}"), $"rig-{i % 8}", start.AddMinutes(i), cases);
            JsonSerializer.Serialize(stream, entry, ResultsJson.Default.CaseIndexEntry);
            stream.WriteByte((byte)'\n');
        }
    }
}
