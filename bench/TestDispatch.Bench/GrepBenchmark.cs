using System.Diagnostics;
using System.Globalization;
using TestDispatch.Engine.Logs;

namespace TestDispatch.Bench;

/// <summary>
/// <c>testdispatch grep</c>'s engine against GNU grep -r and ripgrep over the same history of logs (10k runs, ~1 GB,
/// page cache warm), same run: wall time per tool (median), hit counts (which must agree), ratios. Our search is timed
/// one file after another, as a walk of history does it, and on 2 threads beside rg's default. --variants adds the
/// regex engine, literal prefilter and buffer size comparisons behind the choices in LogSearch.
/// </summary>
internal static class GrepBenchmark
{
    private const string Needle = "Connection reset by peer";

    internal sealed record Case(string Name, string Pattern, LogSearchOptions Options, string[] GrepArgs, string[] RgArgs);

    internal static readonly Case[] Cases =
    [
        new("-F rare", Needle, new(FixedString: true), ["-F"], ["-F"]),
        new("-F -i rare", "connection RESET by peer", new(FixedString: true, IgnoreCase: true), ["-F", "-i"], ["-F", "-i"]),
        new("-F common", "scheduler", new(FixedString: true), ["-F"], ["-F"]),
        new("regex with literal", @"reset by peer \(errno [0-9]+\)", new(), ["-E"], []),
        new("regex alternatives", "timed out|refused", new(), ["-E"], []),
        new("-i regex alternatives", "TIMED OUT|REFUSED", new(IgnoreCase: true), ["-E", "-i"], ["-i"]),
        new("-l -F rare", Needle, new(FixedString: true, FilesWithMatches: true), ["-F", "-l"], ["-F", "-l"]),
    ];

    public static int Run(BenchArgs args)
    {
        int files = args.Int("files") ?? 10_000;
        int totalMb = args.Int("mb") ?? 1024;
        int repeats = args.Int("runs") ?? 3;
        bool variants = args.Flag("variants");
        string root = args.String("dir") ?? Path.Combine(Path.GetTempPath(), $"td-grep-bench-{Environment.ProcessId}");
        bool keep = args.Flag("keep");
        args.RejectUnused();
        bool haveRg = OnPath("rg");
        Console.WriteLine($"grep benchmark: {files:N0} logs, ~{totalMb:N0} MB; {Environment.ProcessorCount} cores; load {SyntheticRuns.LoadAverage()}; "
            + $"LANG={Environment.GetEnvironmentVariable("LANG") ?? "(unset)"} LC_ALL={Environment.GetEnvironmentVariable("LC_ALL") ?? "(unset)"}");
        Console.WriteLine($"  {Version("grep")}; {(haveRg ? Version("rg") : "rg not installed (apt-get install ripgrep)")}");
        try
        {
            Stopwatch generating = Stopwatch.StartNew();
            long bytes = Generate(root, files, totalMb * 1024L * 1024);
            Console.WriteLine($"  generated {bytes / 1e6:N0} MB in {generating.Elapsed.TotalSeconds:0.0} s under {root}");
            Warm(root);
            // Wall and CPU (user+system) seconds: on a shared machine the CPU figure is the steadier one.
            TextTable table = new("case", "grep -r", "rg -j1", "rg (2 threads)", "ours", "ours 2 threads", "ours/grep", "ours/rg -j1", "ours2/rg",
                "hits grep/rg/ours");
            foreach (Case c in Cases)
            {
                string[] rgArgs = ["-n", "--no-heading", "--no-ignore", "--hidden", "--no-config", .. c.RgArgs, "--", c.Pattern, root];
                Timing grep = Median(repeats, () => External("grep", ["-r", "-n", .. c.GrepArgs, "--", c.Pattern, root]));
                Timing rg1 = haveRg ? Median(repeats, () => External("rg", ["-j1", .. rgArgs])) : Timing.None;
                Timing rg = haveRg ? Median(repeats, () => External("rg", rgArgs)) : Timing.None;
                LogSearch search = new(c.Pattern, c.Options);
                Timing ours = Median(repeats, () => Ours(search, root, threads: 1));
                Timing ours2 = Median(repeats, () => Ours(search, root, threads: 2));
                table.Add(c.Name, grep.Show(), rg1.Show(), rg.Show(), ours.Show(), ours2.Show(), ours.Ratio(grep), ours.Ratio(rg1), ours2.Ratio(rg),
                    $"{grep.Hits}/{rg.Hits}/{ours.Hits}");
            }
            Console.WriteLine();
            Console.WriteLine("  each cell: median wall s / its CPU s (user+system); ratios: wall / CPU");
            table.Write(Console.Out);
            if (variants)
            {
                Variants(root, repeats);
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

    /// <summary>The choices inside LogSearch, measured: regex engine, literal prefilter, buffer size.</summary>
    private static void Variants(string root, int repeats)
    {
        TextTable table = new("variant", "wall s / CPU s", "hits");
        foreach (Case c in Cases.Where(c => !c.Options.FixedString))
        {
            foreach ((string name, bool nonBacktracking, bool prefilter) in new[] { ("NonBacktracking + prefilter", true, true),
                ("NonBacktracking, no prefilter", true, false), ("Compiled backtracking + prefilter", false, true), ("Compiled backtracking, no prefilter", false, false) })
            {
                LogSearch search = new(c.Pattern, c.Options, nonBacktracking, prefilter, LogSearch.DefaultBlockSize);
                Timing t = Median(repeats, () => Ours(search, root, threads: 1));
                table.Add($"{c.Name}: {name}", t.Show(), $"{t.Hits}");
            }
        }
        foreach (int block in new[] { 64, 256, 1024, 4096 })
        {
            LogSearch search = new(Needle, new LogSearchOptions(FixedString: true), true, true, block * 1024);
            Timing t = Median(repeats, () => Ours(search, root, threads: 1));
            table.Add($"-F rare, {block} KiB buffer", t.Show(), $"{t.Hits}");
        }
        Console.WriteLine();
        table.Write(Console.Out);
    }

    /// <summary>Logs laid out as the store keeps them (runs/&lt;id&gt;/output.log), a few holding the searched-for lines.</summary>
    private static long Generate(string root, int files, long totalBytes) =>
        WriteLogs([.. Enumerable.Range(0, files).Select(i => Path.Combine(root, "runs", $"{i:x12}", "output.log"))], totalBytes);

    /// <summary>
    /// Test logs of ~<paramref name="totalBytes"/> in all at these paths: mostly 20-180 KB, one in a hundred a few MB, a few
    /// holding the lines the cases search for. Returns the bytes written.
    /// </summary>
    internal static long WriteLogs(IReadOnlyList<string> paths, long totalBytes)
    {
        long written = 0;
        int files = paths.Count;
        Parallel.For(0, files, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            Random sizes = new(i);
            // Mostly 20-180 KB, one in a hundred a few MB: long soak tests beside short unit runs.
            int size = sizes.Next(100) == 0 ? sizes.Next(2, 6) * 1024 * 1024 : sizes.Next(20, 180) * 1024;
            size = (int)(size * (totalBytes / (files * 143_000.0)));
            bool reset = sizes.Next(100) < 2, timedOut = sizes.Next(100) < 3, refused = sizes.Next(100) < 1;
            byte[] log = new SyntheticLog(i, i * 7919).Write(size, random => random.Next(500) switch
            {
                0 when reset => $"ERROR [net] read from 10.1.2.3:{random.Next(32768, 61000)} failed: Connection reset by peer (errno 104)",
                1 when timedOut => "WARN  [dut-ctl] operation timed out after 30000 ms, retrying",
                2 when refused => "ERROR [net] connect() refused by 10.0.0.9:22",
                _ => null,
            });
            Directory.CreateDirectory(Path.GetDirectoryName(paths[i])!);
            File.WriteAllBytes(paths[i], log);
            Interlocked.Add(ref written, log.Length);
        });
        return written;
    }

    internal static void Warm(string root)
    {
        byte[] buffer = new byte[1 << 20];
        foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            using FileStream stream = File.OpenRead(file);
            while (stream.Read(buffer) > 0)
            {
            }
        }
    }

    private static long Ours(LogSearch search, string root, int threads)
    {
        long hits = 0;
        IEnumerable<string> logs = Directory.EnumerateFiles(root, "output.log", SearchOption.AllDirectories);
        Parallel.ForEach(logs, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => new StreamWriter(Stream.Null), (log, _, output) =>
        {
            foreach (LogHit hit in search.Search(log))
            {
                // Formatted as grep prints it, so both pay for their output.
                output.Write(log);
                output.Write(':');
                output.Write(hit.LineNumber);
                output.Write(':');
                output.WriteLine(hit.Text);
                Interlocked.Increment(ref hits);
                if (search.Options.FilesWithMatches)
                {
                    break;
                }
            }
            return output;
        }, output => output.Dispose());
        return hits;
    }

    /// <summary>Runs a tool with its output on a pipe (grep treats /dev/null as -q), counting the lines it prints.</summary>
    internal static long External(string tool, string[] arguments)
    {
        ProcessStartInfo start = new(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using Process process = Process.Start(start)!;
        Task<string> errors = process.StandardError.ReadToEndAsync();
        Stream output = process.StandardOutput.BaseStream;
        byte[] buffer = new byte[1 << 16];
        long lines = 0;
        int read;
        while ((read = output.Read(buffer)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
        }
        process.WaitForExit();
        if (process.ExitCode > 1)
        {
            throw new InvalidOperationException($"{tool} exited {process.ExitCode}: {errors.Result}");
        }
        return lines;
    }

    /// <summary>Median wall and CPU seconds of one case and tool (CPU: this process for ours, the reaped children for tools).</summary>
    internal sealed record Timing(double Wall, double Cpu, long Hits)
    {
        public static readonly Timing None = new(double.NaN, double.NaN, -1);

        public string Show() => double.IsNaN(Wall) ? "-" : $"{F(Wall)} / {F(Cpu)}";

        public string Ratio(Timing other) => double.IsNaN(other.Wall) ? "-" : $"{R(Wall / other.Wall)} / {R(Cpu / other.Cpu)}";
    }

    internal static Timing Median(int repeats, Func<long> run)
    {
        run(); // warm: JIT, page cache, the tool's own start-up
        List<double> walls = [], cpus = [];
        long hits = 0;
        for (int i = 0; i < repeats; i++)
        {
            double cpuStart = CpuClock.ProcessMs() + CpuClock.ChildrenMs();
            long start = Stopwatch.GetTimestamp();
            hits = run();
            walls.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            cpus.Add((CpuClock.ProcessMs() + CpuClock.ChildrenMs() - cpuStart) / 1000);
        }
        walls.Sort();
        cpus.Sort();
        return new Timing(walls[walls.Count / 2], cpus[cpus.Count / 2], hits);
    }

    internal static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, tool)));

    internal static string Version(string tool)
    {
        ProcessStartInfo start = new(tool, ["--version"]) { RedirectStandardOutput = true, UseShellExecute = false };
        using Process process = Process.Start(start)!;
        string first = process.StandardOutput.ReadLine() ?? tool;
        process.WaitForExit();
        return first;
    }

    private static string F(double seconds) => double.IsNaN(seconds) ? "-" : seconds.ToString("0.000", CultureInfo.InvariantCulture);

    private static string R(double ratio) => double.IsNaN(ratio) || double.IsInfinity(ratio) ? "-" : ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×";
}
