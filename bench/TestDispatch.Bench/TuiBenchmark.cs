using System.Diagnostics;
using System.Globalization;
using System.IO.Abstractions;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Terminal.Gui.App;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.Testing;
using Terminal.Gui.ViewBase;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tui.App;
using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// The terminal app on a big history: (a) time from start to the first full screen, the real Release
/// binary in a private tmux, against an empty store; (b) CPU and wall time of one refresh after another
/// process changed one run, headless in a child process (MainWindow on the ANSI driver, no terminal);
/// (c) the app's memory after opening the run view on a run whose log is 1 GB. Prints figures; asserts nothing.
/// </summary>
/// <remarks>
/// The headless part runs in a child process with its standard streams redirected, so the ANSI driver can
/// never touch the terminal this benchmark is started from (and the child starts with a cold store, as the app does).
/// Options: --runs N (default 100000), --log-mb N (1024), --starts N (3), --refreshes N (20),
/// --testdispatch PATH (default: the published binary, as for dispatch), --dir PATH, --keep.
/// Needs tmux. The big log is always deleted, even with --keep.
/// </remarks>
internal sealed class TuiBenchmark
{
    private const string RefreshChildFlag = "refresh-child";
    private const string LoadChildFlag = "load-child";
    private const int Width = 120;
    private const int Height = 40;
    private const int LineBytes = 80;
    private const int RefreshWarmup = 3;
    private const int ProxyTries = 3;
    private const int LiveSeconds = 10;
    private static readonly TimeSpan LiveSettle = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan ScreenTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SettleBeforeMemory = TimeSpan.FromMilliseconds(1500);
    private static readonly RunSpec BenchSpec = new(["./run.sh"], TimeSpan.FromMinutes(30));
    private static readonly string[] BenchMachines = ["local-1", "local-2"];

    private readonly Options _options;
    private readonly string _root;
    private readonly string _binary;
    private readonly TextWriter _out = Console.Out;

    private TuiBenchmark(Options options, string root, string binary)
    {
        _options = options;
        _root = root;
        _binary = binary;
    }

    public static int Run(BenchArgs args)
    {
        if (args.Flag(RefreshChildFlag))
        {
            return RefreshChild(args);
        }
        if (args.Flag(LoadChildFlag))
        {
            return LoadChild(args);
        }
        Options options = new(
            Runs: args.Int("runs", min: 100) ?? 100_000,
            LogMegabytes: args.Int("log-mb") ?? 1024,
            Starts: args.Int("starts") ?? 3,
            Refreshes: args.Int("refreshes", min: 5) ?? 20,
            Binary: args.String("testdispatch"),
            Dir: args.String("dir"),
            Keep: args.Flag("keep"));
        args.RejectUnused();
        string binary = DispatchBenchmark.LocateBinary(options.Binary);
        if (!File.Exists("/usr/bin/tmux") && !File.Exists("/usr/local/bin/tmux") && !File.Exists("/bin/tmux"))
        {
            throw new BenchUsageException("tmux is needed for the terminal parts (apt-get install tmux)");
        }

        string root;
        if (options.Dir is { } parent)
        {
            Directory.CreateDirectory(parent);
            root = Path.Combine(Path.GetFullPath(parent), $"tdbench-tui-{Environment.ProcessId}-{RunIds.New()[..6]}");
            Directory.CreateDirectory(root);
        }
        else
        {
            root = Directory.CreateTempSubdirectory("tdbench-tui-").FullName;
        }
        try
        {
            new TuiBenchmark(options, root, binary).Execute();
        }
        finally
        {
            if (options.Keep)
            {
                Console.WriteLine($"scratch dir kept: {root} (the big log was deleted)");
            }
            else
            {
                Directory.Delete(root, recursive: true);
            }
        }
        return 0;
    }

    private void Execute()
    {
        Stopwatch total = Stopwatch.StartNew();
        string configFile = Path.Combine(_root, "config.json");
        File.WriteAllText(configFile,
            """{"TestDispatch":{"Defaults":{"Command":["./run.sh"],"AgentIdle":"00:00:30"},"Machines":[{"Name":"local-1","Transport":"local","Tags":["local"]},{"Name":"local-2","Transport":"local","Tags":["local"]}]}}""");
        string configHome = Path.Combine(_root, "xdg-config"); // no user config file may leak in
        Directory.CreateDirectory(configHome);
        string bigDir = Path.Combine(_root, "state-big");
        string emptyDir = Path.Combine(_root, "state-empty");
        Directory.CreateDirectory(emptyDir);

        _out.WriteLine("TestDispatch terminal app benchmark");
        _out.WriteLine($"  when      {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss}Z   {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} cpus, load average {SyntheticRuns.LoadAverage()}");
        _out.WriteLine($"  binary    {_binary}");
        _out.WriteLine($"  scratch   {_root}");
        _out.WriteLine($"  screen    {Width}x{Height}; tmux {TmuxVersion()} on a private socket; capture-pane polled every {PollEvery.TotalMilliseconds:F0} ms");

        Progress($"writing a snapshot of {Count(_options.Runs)} runs on {string.Join(", ", BenchMachines)}");
        long fillStart = Stopwatch.GetTimestamp();
        (string newestId, long snapshotBytes) = FillStore(bigDir, _options.Runs);
        double fillMs = Stopwatch.GetElapsedTime(fillStart).TotalMilliseconds;
        _out.WriteLine($"  store     {Count(_options.Runs)} runs (all ended), snapshot.json {MiB(snapshotBytes)}, written in {Seconds(fillMs)} s; newest run {newestId} (the big-log run)");
        _out.WriteLine();

        Dictionary<string, string> env = new(StringComparer.Ordinal) { ["XDG_CONFIG_HOME"] = configHome };
        string[] bigCommand = [_binary, "--state-dir", bigDir, "--config", configFile];
        string[] emptyCommand = [_binary, "--state-dir", emptyDir, "--config", configFile];

        // Proxies for the start-up breakdown: fresh processes, no terminal.
        Progress("start-up proxies: --help, runs --limit 1 (empty, big), a bare store load in a fresh process");
        List<ProcessResult> help = [];
        List<ProcessResult> runsEmpty = [];
        List<ProcessResult> runsBig = [];
        Samples loadBig = new();
        Samples loadHeapKb = new();
        Samples loadRssKb = new();
        Samples loadHwmKb = new();
        Samples loadAggressiveKb = new();
        for (int i = 0; i < ProxyTries; i++)
        {
            help.Add(TimeProcess([_binary, "--help"], env));
            runsEmpty.Add(TimeProcess([.. emptyCommand, "runs", "--limit", "1"], env));
            runsBig.Add(TimeProcess([.. bigCommand, "runs", "--limit", "1"], env));
            string[] load = TimeProcess([.. BenchProgram(), "tui", "--" + LoadChildFlag, "--state-dir", bigDir], env).Stdout.Trim().Split(' ');
            loadBig.Add(ParseMs(load[0]));
            loadHeapKb.Add(ParseMs(load.ElementAtOrDefault(1) ?? ""));
            loadRssKb.Add(ParseMs(load.ElementAtOrDefault(2) ?? ""));
            loadHwmKb.Add(ParseMs(load.ElementAtOrDefault(3) ?? ""));
            loadAggressiveKb.Add(ParseMs(load.ElementAtOrDefault(4) ?? ""));
        }

        // (a) start to the first full screen, and the memory of the app on its main screen.
        List<StartResult> emptyStarts = [];
        List<StartResult> bigStarts = [];
        MemoryReading? bigLogMemory = null;
        double openLogMs = double.NaN;
        double liveIdle = double.NaN;
        double liveChanging = double.NaN;
        string newestForChild = newestId;
        using (TuiTmux tmux = new(Width, Height, env))
        {
            for (int i = 0; i < _options.Starts; i++)
            {
                Progress($"(a) start {i + 1}/{_options.Starts}: empty store");
                emptyStarts.Add(TimeStart(tmux, emptyCommand, "  0 runs", readMemory: i == 0));
                Progress($"(a) start {i + 1}/{_options.Starts}: {Count(_options.Runs)} runs");
                bigStarts.Add(TimeStart(tmux, bigCommand, newestId, readMemory: i == 0));
            }

            // (c) the run view on the big log.
            string logPath = new StatePaths(bigDir).Log(newestId);
            Progress($"(c) writing a log of {_options.LogMegabytes} MiB for run {newestId}");
            long logStart = Stopwatch.GetTimestamp();
            (long logBytes, long logLines, string lastLine) = WriteBigLog(logPath, (long)_options.LogMegabytes << 20);
            double logMs = Stopwatch.GetElapsedTime(logStart).TotalMilliseconds;
            try
            {
                Progress("(c) opening the run view on it");
                StartResult start = TimeStart(tmux, bigCommand, newestId, readMemory: false, keepOpen: true);
                long openStart = Stopwatch.GetTimestamp();
                tmux.Keys("Enter");
                string marker = lastLine[..24];
                WaitScreen(tmux, s => s.Contains(marker, StringComparison.Ordinal), $"the last log line '{marker}'");
                openLogMs = Stopwatch.GetElapsedTime(openStart).TotalMilliseconds;
                Thread.Sleep(SettleBeforeMemory);
                bigLogMemory = MemoryReading.Of(start.Pid);
                _out.WriteLine($"  big log   {MiB(logBytes)} in {logLines.ToString("N0", CultureInfo.InvariantCulture)} lines of {LineBytes} B, written in {Seconds(logMs)} s; last line \"{lastLine}\"");
                Quit(tmux, twice: true);
            }
            finally
            {
                File.Delete(logPath);
            }

            // (b) cross-check on the real app: its CPU per second while another process changes one run every second, then idle.
            Progress($"(b) real app in tmux: its CPU over {LiveSeconds} s idle, then {LiveSeconds} s with one on-screen run changing every second");
            StartResult live = TimeStart(tmux, bigCommand, newestId, readMemory: false, keepOpen: true);
            // The live run below must stay pending: the app keeps an agent up while there is work, so its machine is
            // drained first (a drained machine's queue is no work), and an agent already up is stopped.
            TimeProcess([.. bigCommand, "machine", "drain", "local-2", "--reason", "benchmark"], env);
            StopAgents(bigDir);
            RunStore other = new(new FileSystem(), new FlockFileLocks(), bigDir);
            string liveDir = "/bench/tui/live";
            PrepareOutcome added = other.Prepare(new PrepareRequest("local-2", liveDir, SyntheticRuns.Hash(liveDir), BenchSpec));
            newestForChild = added.Run.Id;
            // It stays pending: a running run's duration is redrawn every second, which would make "idle" redraw too.
            // A new run arrives above the kept selection (out of view): 'g' selects it, so its changes are on screen.
            WaitScreen(tmux, s =>
            {
                if (s.Contains(added.Run.Id, StringComparison.Ordinal))
                {
                    return true;
                }
                tmux.Keys("g");
                return false;
            }, $"the new run {added.Run.Id}");
            Thread.Sleep(LiveSettle); // let tiered JIT finish recompiling the start-up paths first: it costs CPU for seconds
            liveIdle = AppCpuPerSecond(live.Pid, null);
            int change = 0;
            liveChanging = AppCpuPerSecond(live.Pid, () =>
                other.Update(added.Run.Id, r => r with { Run = r.Run with { TestDir = $"/bench/tui/live-{++change:000}" } }));
            WaitScreen(tmux, s => s.Contains($"live-{change:000}", StringComparison.Ordinal), $"the last change live-{change:000}");
            other.Update(added.Run.Id, r => r with
            {
                Run = r.Run with { Status = RunStatus.Interrupted, EndedAt = DateTimeOffset.UtcNow, ErrorCode = ErrorCodes.Interrupted, ErrorMsg = "ended by the benchmark" },
            });
            Quit(tmux, twice: false);
        }

        // (b) one refresh after one run changed, headless, in a child process.
        Progress($"(b) headless refreshes in a child process: {_options.Refreshes} (+{RefreshWarmup} warm-up)");
        string figuresFile = Path.Combine(_root, "refresh.json");
        ProcessResult child = TimeProcess([.. BenchProgram(), "tui", "--" + RefreshChildFlag, "--state-dir", bigDir, "--config", configFile,
            "--newest", newestForChild, "--refreshes", _options.Refreshes.ToString(CultureInfo.InvariantCulture), "--out", figuresFile],
            // The app users run is native (AOT): its code is compiled before it starts. This child is JIT; without tiering
            // every method is compiled optimized at its first call, so the measured refreshes see finished code, not a
            // young process's tier-0 code and a background JIT thread (which cost 20+ ms per draw here).
            new Dictionary<string, string>(env) { ["DOTNET_TieredCompilation"] = "0" }, TimeSpan.FromMinutes(3));
        if (child.ExitCode != 0 || !File.Exists(figuresFile))
        {
            throw new InvalidOperationException($"the headless refresh child failed (exit {child.ExitCode}):\n{child.Stderr}");
        }
        Dictionary<string, double[]> figures = JsonSerializer.Deserialize<Dictionary<string, double[]>>(File.ReadAllText(figuresFile))!;
        string[] notes = File.Exists(figuresFile + ".notes") ? File.ReadAllLines(figuresFile + ".notes") : [];

        Report(help, runsEmpty, runsBig, loadBig, (loadHeapKb.Median, loadRssKb.Median, loadHwmKb.Median, loadAggressiveKb.Median), emptyStarts, bigStarts, figures, notes, bigLogMemory, openLogMs, liveIdle, liveChanging);
        _out.WriteLine();
        _out.WriteLine($"total benchmark time {total.Elapsed.TotalSeconds:F1} s, load average now {SyntheticRuns.LoadAverage()}");
    }

    private void Report(List<ProcessResult> help, List<ProcessResult> runsEmpty, List<ProcessResult> runsBig, Samples loadBig,
        (double HeapKb, double RssKb, double HwmKb, double AggressiveRssKb) storeMemory, List<StartResult> emptyStarts, List<StartResult> bigStarts,
        Dictionary<string, double[]> figures, string[] notes, MemoryReading? bigLog, double openLogMs, double liveIdle, double liveChanging)
    {
        string runs = Count(_options.Runs);
        Samples emptyFull = Of(emptyStarts.Select(s => s.FullMs));
        Samples bigFull = Of(bigStarts.Select(s => s.FullMs));
        Samples emptyFrame = Of(emptyStarts.Select(s => s.FrameMs));
        Samples bigFrame = Of(bigStarts.Select(s => s.FrameMs));

        _out.WriteLine();
        _out.WriteLine($"(a) Start to the first full screen, real binary in tmux, {_options.Starts} starts each, ms (from respawn-pane to the capture that showed it; ±{PollEvery.TotalMilliseconds:F0} ms)");
        _out.WriteLine("    first frame = the tab header drawn; full screen = the newest run's id on screen (empty store: the header's '0 runs');");
        _out.WriteLine("    app CPU = the app's own user+system CPU at that moment, from /proc/<pid>/stat (10 ms ticks): less sensitive to a busy machine than wall time");
        TextTable a = new("store", "first frame", "full screen", "min", "max", "app CPU at frame", "app CPU at full", "all full-screen times");
        a.Add("empty", Ms(emptyFrame.Median), Ms(emptyFull.Median), Ms(emptyFull.Min), Ms(emptyFull.Max),
            Ms(Of(emptyStarts.Select(s => s.FrameCpuMs)).Median), Ms(Of(emptyStarts.Select(s => s.FullCpuMs)).Median), string.Join(" ", emptyStarts.Select(s => Ms(s.FullMs))));
        a.Add(runs, Ms(bigFrame.Median), Ms(bigFull.Median), Ms(bigFull.Min), Ms(bigFull.Max),
            Ms(Of(bigStarts.Select(s => s.FrameCpuMs)).Median), Ms(Of(bigStarts.Select(s => s.FullCpuMs)).Median), string.Join(" ", bigStarts.Select(s => Ms(s.FullMs))));
        a.Write(_out);
        _out.WriteLine($"  ratio {runs}/empty (full screen medians): {Ratio(bigFull.Median / emptyFull.Median)} wall, " +
            $"{Ratio(Of(bigStarts.Select(s => s.FullCpuMs)).Median / Of(emptyStarts.Select(s => s.FullCpuMs)).Median)} app CPU");
        _out.WriteLine();
        _out.WriteLine($"  where the start-up goes (medians of {ProxyTries} fresh processes without a terminal, and of the starts above; ms):");
        TextTable proxies = new("step", "wall", "CPU");
        proxies.Add("testdispatch --help (runtime start + CLI parse)", Ms(Of(help.Select(r => r.Ms)).Median), Ms(Of(help.Select(r => r.CpuMs)).Median));
        proxies.Add("testdispatch runs --limit 1, empty store", Ms(Of(runsEmpty.Select(r => r.Ms)).Median), Ms(Of(runsEmpty.Select(r => r.CpuMs)).Median));
        proxies.Add($"testdispatch runs --limit 1, {runs} runs", Ms(Of(runsBig.Select(r => r.Ms)).Median), Ms(Of(runsBig.Select(r => r.CpuMs)).Median));
        proxies.Add("  → the store load in the CLI (difference)", Ms(Of(runsBig.Select(r => r.Ms)).Median - Of(runsEmpty.Select(r => r.Ms)).Median),
            Ms(Of(runsBig.Select(r => r.CpuMs)).Median - Of(runsEmpty.Select(r => r.CpuMs)).Median));
        proxies.Add($"RunStore load of {runs} alone, fresh process (its own stopwatch)", Ms(loadBig.Median), "");
        proxies.Add($"app: respawn → first frame, empty / {runs} (the store is loaded before the UI starts)", $"{Ms(emptyFrame.Median)} / {Ms(bigFrame.Median)}",
            $"{Ms(Of(emptyStarts.Select(s => s.FrameCpuMs)).Median)} / {Ms(Of(bigStarts.Select(s => s.FrameCpuMs)).Median)}");
        proxies.Add($"app: first frame → full screen, empty / {runs} (first list load + draw)",
            $"{Ms(emptyFull.Median - emptyFrame.Median)} / {Ms(bigFull.Median - bigFrame.Median)}",
            $"{Ms(Of(emptyStarts.Select(s => s.FullCpuMs - s.FrameCpuMs)).Median)} / {Ms(Of(bigStarts.Select(s => s.FullCpuMs - s.FrameCpuMs)).Median)}");
        proxies.Add($"headless: MainWindow created → newest id drawn, cold store ({runs}), fresh process", Ms(Median(figures, "first_load_ms")), "");
        proxies.Write(_out);

        _out.WriteLine();
        _out.WriteLine($"(b) One refresh after another RunStore changed one run (headless MainWindow {Width}x{Height}, {runs} runs; {Median(figures, "samples"):F0} refreshes after {RefreshWarmup} warm-up)");
        _out.WriteLine("    end to end = MainWindow.Reload() until the changed test dir is on the drawn screen (the same path as the 1 s timer);");
        _out.WriteLine("    a JIT child with DOTNET_TieredCompilation=0, so code is optimized from the start as in the native app");
        TextTable b = new("what", "wall med", "wall p90", "CPU med", "CPU p90", "alloc med");
        AddRow(b, figures, "end to end, whole process CPU (incl. tier-1 JIT of a young process)", "e2e_wall", "e2e_cpu_process", "e2e_alloc_mb");
        AddRow(b, figures, "  of which the UI thread", null, "e2e_cpu_ui", null);
        AddRow(b, figures, "    Invoke'd apply (MainWindow.Apply: patch the changed row, draw only if on screen)", null, "e2e_cpu_ui_apply", null);
        AddRow(b, figures, "    the LayoutAndDraw that shows it", null, "e2e_cpu_ui_draw", null);
        AddRow(b, figures, "refresh work = Load split (below) + apply + draw", null, "work_cpu", null);
        _out.WriteLine();
        b.Add("ScreenData.Load split, on another Lab (same code, this thread):", "", "", "", "", "");
        AddRow(b, figures, "  RunStore.Refresh (reads the 1 new journal line)", "split_refresh_wall", "split_refresh_cpu", "split_refresh_alloc_mb");
        AddRow(b, figures, "  Lab.Machines()", "split_machines_wall", "split_machines_cpu", "split_machines_alloc_mb");
        AddRow(b, figures, "  RunStore.ChangesSince(cursor) ← only the changed runs", "split_runs_wall", "split_runs_cpu", "split_runs_alloc_mb");
        AddRow(b, figures, "  (for comparison: Lab.Runs(filter), the full relist of every run)", "split_relist_wall", "split_relist_cpu", "split_relist_alloc_mb");
        AddRow(b, figures, "ScreenData.Load when nothing changed (idle 1 s tick)", "idle_wall", "idle_cpu", "idle_alloc_mb");
        b.Add("Drawing alone (UI thread):", "", "", "", "", "");
        AddRow(b, figures, "  LayoutAndDraw(true), a forced full redraw", null, "draw_forced_cpu", null);
        AddRow(b, figures, "  LayoutAndDraw() with nothing to redraw", null, "draw_clean_cpu", null);
        AddRow(b, figures, "  ListGrid.Refresh() + LayoutAndDraw(), nothing changed on screen", null, "table_update_draw_cpu", null);
        AddRow(b, figures, "  Driver.ToString() (the benchmark reading the screen)", null, "screen_text_cpu", null);
        b.Write(_out);
        foreach (string note in notes)
        {
            _out.WriteLine($"  idle headless: {note}");
        }
        _out.WriteLine($"  gen2 GCs during the measured refreshes: {Median(figures, "gen2_collections"):F0}; whole-process CPU over as long as a median refresh with nothing to do (noise floor): {Ms(Median(figures, "poll_noise_cpu"))} ms");
        _out.WriteLine($"  real app in tmux ({runs} runs, main screen, the native binary), app CPU from /proc (10 ms ticks) over {LiveSeconds} s each: idle (nothing on screen");
        _out.WriteLine($"  changes) {Ms(liveIdle)} ms/s; with one on-screen pending run changed by another process every second {Ms(liveChanging)} ms/s → {Ms(liveChanging - liveIdle)} ms per refresh");
        _out.WriteLine($"  (each of those is good to ±{Ms(10.0 / LiveSeconds)} ms/s: one 10 ms tick over {LiveSeconds} s; the headless figures above are the precise ones)");
        _out.WriteLine($"  the refresh reads only the runs changed since its cursor (RunStore.ChangesSince) and patches them into the shown list (RunsView);");
        _out.WriteLine($"  a full relist would cost {Ms(Median(figures, "split_relist_cpu"))} ms CPU more, under state.lock.");

        _out.WriteLine();
        _out.WriteLine("(c) Memory of the app (real binary in tmux), from /proc/<pid>/status");
        TextTable c = new("app state", "VmRSS", "VmHWM");
        MemoryReading? empty = emptyStarts[0].Memory;
        MemoryReading? main = bigStarts[0].Memory;
        c.Add("empty store, main screen", MemoryText(empty?.RssKb), MemoryText(empty?.HwmKb));
        c.Add($"{runs} runs, main screen", MemoryText(main?.RssKb), MemoryText(main?.HwmKb));
        c.Add($"{runs} runs, run view on the {_options.LogMegabytes} MiB log, tail shown", MemoryText(bigLog?.RssKb), MemoryText(bigLog?.HwmKb));
        c.Add($"a bare RunStore of {runs} runs in a fresh process (no UI)", MemoryText((long)storeMemory.RssKb), MemoryText((long)storeMemory.HwmKb));
        c.Write(_out);
        _out.WriteLine($"  that bare RunStore keeps {MemoryText((long)storeMemory.HeapKb)} of managed heap after a full GC (the loaded index of {runs} RunRecords); " +
            $"its RSS after GC.Collect(Aggressive) is {MemoryText((long)storeMemory.AggressiveRssKb)}");
        _out.WriteLine($"  Enter → the log's last line on screen: {Ms(openLogMs)} ms");
        if (main is not null && empty is not null && bigLog is not null)
        {
            _out.WriteLine($"  the store's share: {MiB((main.RssKb - empty.RssKb) * 1024)} (main screen, {runs} vs empty); the log's share: {MiB((bigLog.RssKb - main.RssKb) * 1024)} (run view vs main screen)");
        }

        _out.WriteLine();
        _out.WriteLine("Targets");
        _out.WriteLine($"  first full screen < 1 s with {runs} runs: median {Seconds(bigFull.Median)} s (empty store {Seconds(emptyFull.Median)} s) -> {Verdict(bigFull.Median < 1000)}");
        double cpu = Median(figures, "work_cpu");
        _out.WriteLine($"  refresh after one change < 10 ms CPU: median {Ms(cpu)} ms of refresh work (ChangesSince alone {Ms(Median(figures, "split_runs_cpu"))} ms; " +
            $"real app {Ms(liveChanging - liveIdle)} ms/refresh; whole headless process {Ms(Median(figures, "e2e_cpu_process"))} ms incl. noise) -> {Verdict(cpu < 10)}");
        string memory = bigLog is null ? "not measured" : $"VmRSS {MiB(bigLog.RssKb * 1024)} (VmHWM {MiB(bigLog.HwmKb * 1024)})";
        _out.WriteLine($"  memory < 150 MB with the {_options.LogMegabytes} MiB log open: {memory} -> {Verdict(bigLog is not null && bigLog.RssKb * 1024 < 150L * 1000 * 1000)}");
    }

    private static void AddRow(TextTable table, Dictionary<string, double[]> figures, string label, string? wall, string? cpu, string? alloc)
    {
        table.Add(label,
            wall is null ? "" : Ms(Median(figures, wall)), wall is null ? "" : Ms(Percentile(figures, wall, 90)),
            cpu is null ? "" : Ms(Median(figures, cpu)), cpu is null ? "" : Ms(Percentile(figures, cpu, 90)),
            alloc is null ? "" : Median(figures, alloc).ToString("F2", CultureInfo.InvariantCulture) + " MB");
    }

    // ---- (a) and (c): the real binary in tmux ----

    /// <summary>Starts the app in the pane and polls until <paramref name="ready"/> is on screen; then quits it unless <paramref name="keepOpen"/>.</summary>
    private static StartResult TimeStart(TuiTmux tmux, string[] command, string ready, bool readMemory, bool keepOpen = false)
    {
        long start = Stopwatch.GetTimestamp();
        tmux.Respawn(command);
        double frame = double.NaN;
        double frameCpu = double.NaN;
        while (true)
        {
            string screen = tmux.Capture();
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            bool full = screen.Contains(ready, StringComparison.Ordinal);
            if (double.IsNaN(frame) && screen.Contains("Runs]", StringComparison.Ordinal))
            {
                frame = ms;
                frameCpu = full ? double.NaN : CpuClock.OfProcessMs(AppPid(tmux.PanePid()));
            }
            if (full)
            {
                int pid = AppPid(tmux.PanePid());
                double fullCpu = CpuClock.OfProcessMs(pid);
                tmux.Started(pid);
                MemoryReading? memory = null;
                if (readMemory)
                {
                    Thread.Sleep(SettleBeforeMemory);
                    memory = MemoryReading.Of(pid);
                }
                if (!keepOpen)
                {
                    Quit(tmux, twice: false);
                }
                return new StartResult(double.IsNaN(frame) ? ms : frame, ms, pid, memory, double.IsNaN(frameCpu) ? fullCpu : frameCpu, fullCpu);
            }
            if (ms > ScreenTimeout.TotalMilliseconds)
            {
                throw new TimeoutException($"the app never showed '{ready}' within {ScreenTimeout.TotalSeconds:F0} s:\n{screen}");
            }
            Thread.Sleep(PollEvery);
        }
    }

    /// <summary>The app's CPU ms per second over <see cref="LiveSeconds"/> s, calling <paramref name="everySecond"/> at the start of each second.</summary>
    private static double AppCpuPerSecond(int pid, Action? everySecond)
    {
        double before = CpuClock.OfProcessMs(pid);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < LiveSeconds; i++)
        {
            everySecond?.Invoke();
            TimeSpan next = TimeSpan.FromSeconds(i + 1) - Stopwatch.GetElapsedTime(start);
            if (next > TimeSpan.Zero)
            {
                Thread.Sleep(next);
            }
        }
        return (CpuClock.OfProcessMs(pid) - before) / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static string WaitScreen(TuiTmux tmux, Func<string, bool> condition, string what)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            string screen = tmux.Capture();
            if (condition(screen))
            {
                return screen;
            }
            if (Stopwatch.GetElapsedTime(start) > ScreenTimeout)
            {
                throw new TimeoutException($"the app never showed {what}:\n{screen}");
            }
            Thread.Sleep(PollEvery);
        }
    }

    /// <summary>q (twice from the run view), then wait for the pane's process to end; respawn -k would kill it anyway.</summary>
    private static void Quit(TuiTmux tmux, bool twice)
    {
        tmux.Keys("q");
        if (twice)
        {
            Thread.Sleep(300);
            tmux.Keys("q");
        }
        long start = Stopwatch.GetTimestamp();
        while (!tmux.PaneDead() && Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(PollEvery);
        }
    }

    /// <summary>The pane's process is the app (tmux execs an argument list directly); if a shell sits between, its child.</summary>
    private static int AppPid(int panePid)
    {
        for (int pid = panePid, depth = 0; depth < 3; depth++)
        {
            string comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
            if (comm.StartsWith("testdispatch", StringComparison.Ordinal))
            {
                return pid;
            }
            string children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Trim();
            if (children.Length == 0 || !int.TryParse(children.Split(' ')[0], CultureInfo.InvariantCulture, out pid))
            {
                break;
            }
        }
        return panePid;
    }

    // ---- (b): the headless child ----

    /// <summary>
    /// In a child process with redirected streams: a MainWindow on the ANSI driver over the big store, another
    /// RunStore changing one run, each refresh timed until the screen shows the change. Writes figures as JSON.
    /// </summary>
    private static int RefreshChild(BenchArgs args)
    {
        string stateDir = args.String("state-dir") ?? throw new BenchUsageException("--state-dir is needed");
        string configFile = args.String("config") ?? throw new BenchUsageException("--config is needed");
        string newest = args.String("newest") ?? throw new BenchUsageException("--newest is needed");
        string outFile = args.String("out") ?? throw new BenchUsageException("--out is needed");
        int refreshes = args.Int("refreshes") ?? 20;
        args.RejectUnused();

        LabConfig config = LabConfigLoader.Load(new ConfigSources { DefaultFile = configFile, StateDirOverride = stateDir });
        FileSystem fs = new();
        FlockFileLocks locks = new();
        Lab lab = new(config, new RunStore(fs, locks, config.StateDir), fs, locks);
        Dictionary<string, List<double>> figures = [];
        void Add(string name, double value)
        {
            if (!figures.TryGetValue(name, out List<double>? list))
            {
                figures[name] = list = [];
            }
            list.Add(value);
        }

        using IApplication app = Application.Create();
        app.Init(DriverRegistry.Names.ANSI);
        app.Driver!.SetScreenSize(Width, Height);
        long firstStart = Stopwatch.GetTimestamp();
        using MainWindow window = new(app, lab, new Theme(true));
        SessionToken session = app.Begin(window) ?? throw new InvalidOperationException("Begin gave no session");
        app.LayoutAndDraw(true);
        PumpUntil(app, newest, TimeSpan.FromSeconds(60));
        Add("first_load_ms", Stopwatch.GetElapsedTime(firstStart).TotalMilliseconds);
        window.StopRefreshing(); // refreshes are started by hand below, exactly as the 1 s timer does

        // Another process's view of the store: it adds one run on local-2 and keeps changing it.
        RunStore other = new(fs, locks, config.StateDir);
        string testDir = "/bench/tui/changing";
        PrepareOutcome outcome = other.Prepare(new PrepareRequest("local-2", testDir, SyntheticRuns.Hash(testDir), BenchSpec));
        if (outcome.Kind != PrepareKind.Created)
        {
            throw new InvalidOperationException($"could not add the changing run: {outcome.Kind} {outcome.Run.Id}");
        }
        string id = outcome.Run.Id;
        other.Update(id, r => r with { Run = r.Run with { Status = RunStatus.Running, StartedAt = DateTimeOffset.UtcNow } });
        window.Reload();
        // The list keeps the selected run (the old newest) where it was on screen, so a new run arrives above the
        // viewport: 'g' moves the selection to it, and from then on every refresh keeps it at the top.
        PumpUntil(app, id, TimeSpan.FromSeconds(30), () => app.InjectKey(new Key('g')));

        // The same ScreenData.LoadAsync work, split into its parts, on another Lab measured on this thread.
        Lab probe = new(config, new RunStore(fs, locks, config.StateDir), fs, locks);
        ScreenQuery query = new();
        ScreenData previous = ScreenData.LoadAsync(probe, query).GetAwaiter().GetResult();

        // Polling the window's refresh count costs nothing, so the loop below neither draws nor reads the screen
        // until the refresh has been applied (then it draws once, as the main loop would).
        ListGrid runsList = Descendants(window).OfType<ListGrid>().Single(g => g.Source is RunsTable);
        int gen2 = 0;
        for (int i = -RefreshWarmup; i < refreshes; i++)
        {
            string marker = $"change-{i + RefreshWarmup:0000}";
            other.Update(id, r => r with { Run = r.Run with { TestDir = $"/bench/tui/{marker}" } });

            int gen2Before = GC.CollectionCount(2);
            long allocBefore = GC.GetTotalAllocatedBytes(precise: false);
            double processBefore = CpuClock.ProcessMs();
            double uiBefore = CpuClock.ThreadMs();
            double applyCpu = 0;
            double drawCpu = 0;
            int shown = window.Refreshes;
            long start = Stopwatch.GetTimestamp();
            window.Reload();
            while (true)
            {
                double before = CpuClock.ThreadMs();
                app.TimedEvents!.RunTimers();
                if (window.Refreshes == shown)
                {
                    if (Stopwatch.GetElapsedTime(start) > TimeSpan.FromSeconds(30))
                    {
                        throw new TimeoutException($"the refresh was never applied ({marker})");
                    }
                    Thread.Sleep(1);
                    continue;
                }
                double applied = CpuClock.ThreadMs();
                applyCpu += applied - before;
                app.LayoutAndDraw();
                drawCpu += CpuClock.ThreadMs() - applied;
                bool visible = (app.Driver!.ToString() ?? "").Contains(marker, StringComparison.Ordinal);
                if (visible)
                {
                    break;
                }
                shown = window.Refreshes; // applied, yet not drawn with the change: wait for the next refresh (should not happen)
            }
            double wall = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            double process = CpuClock.ProcessMs() - processBefore;
            double ui = CpuClock.ThreadMs() - uiBefore;
            double alloc = (GC.GetTotalAllocatedBytes(precise: false) - allocBefore) / 1e6;
            int collections = GC.CollectionCount(2) - gen2Before;

            (double refreshWall, double refreshCpu, double refreshAlloc) = Measure(() => probe.Store.Refresh());
            (double machinesWall, double machinesCpu, double machinesAlloc) = Measure(() => probe.Machines());
            long cursor = previous.Cursor;
            (double runsWall, double runsCpu, double runsAlloc) = Measure(() => cursor = probe.Store.ChangesSince(cursor).Cursor);
            (double relistWall, double relistCpu, double relistAlloc) = Measure(() => probe.Runs(query.RunFilter));
            previous = previous with { Cursor = cursor };
            if (i < 0)
            {
                continue;
            }
            Add("e2e_wall", wall);
            Add("e2e_cpu_process", process);
            Add("e2e_cpu_ui", ui);
            Add("e2e_cpu_ui_apply", applyCpu);
            Add("e2e_cpu_ui_draw", drawCpu);
            Add("e2e_alloc_mb", alloc);
            gen2 += collections;
            Add("split_refresh_wall", refreshWall);
            Add("split_refresh_cpu", refreshCpu);
            Add("split_refresh_alloc_mb", refreshAlloc);
            Add("split_machines_wall", machinesWall);
            Add("split_machines_cpu", machinesCpu);
            Add("split_machines_alloc_mb", machinesAlloc);
            Add("split_runs_wall", runsWall);
            Add("split_runs_cpu", runsCpu);
            Add("split_runs_alloc_mb", runsAlloc);
            Add("split_relist_wall", relistWall);
            Add("split_relist_cpu", relistCpu);
            Add("split_relist_alloc_mb", relistAlloc);
            Add("work_cpu", refreshCpu + machinesCpu + runsCpu + applyCpu + drawCpu);
        }
        Add("gen2_collections", gen2);
        Add("samples", refreshes);

        // The 1 s tick when nothing changed: Refresh + Machines, the runs list reused.
        for (int i = -RefreshWarmup; i < refreshes; i++)
        {
            ScreenData before = previous;
            (double wall, double cpu, double alloc) = Measure(() => previous = ScreenData.LoadAsync(probe, query, before).GetAwaiter().GetResult());
            if (previous.AllRuns is not null || previous.ChangedRuns is not { Count: 0 })
            {
                throw new InvalidOperationException("an idle refresh loaded runs");
            }
            if (i >= 0)
            {
                Add("idle_wall", wall);
                Add("idle_cpu", cpu);
                Add("idle_alloc_mb", alloc);
            }
        }

        // Noise floor: the same polling loop for as long as a median refresh, with nothing to do (whole process).
        double pollMs = Math.Max(5, figures["e2e_wall"].Order().ElementAt(figures["e2e_wall"].Count / 2));
        for (int i = 0; i < 5; i++)
        {
            double before = CpuClock.ProcessMs();
            long start = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(start).TotalMilliseconds < pollMs)
            {
                app.TimedEvents!.RunTimers();
                Thread.Sleep(1);
            }
            Add("poll_noise_cpu", CpuClock.ProcessMs() - before);
        }

        // Which threads use CPU while nothing happens (headless: the driver's own threads).
        Dictionary<int, (string Name, double Ms)> threadsBefore = ThreadCpu();
        long idleStart = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(idleStart) < TimeSpan.FromSeconds(1))
        {
            app.TimedEvents!.RunTimers();
            Thread.Sleep(1);
        }
        List<string> notes = [];
        foreach ((int tid, (string name, double ms)) in ThreadCpu())
        {
            double used = ms - (threadsBefore.TryGetValue(tid, out (string, double Ms) old) ? old.Ms : 0);
            if (used >= 1)
            {
                notes.Add($"thread {tid} '{name}'{(tid == Environment.ProcessId ? " (the UI thread)" : "")}: {used.ToString("F1", CultureInfo.InvariantCulture)} ms CPU in 1 s idle");
            }
        }

        // What a draw costs here, apart from the refresh.
        for (int i = 0; i < 10; i++)
        {
            double c0 = CpuClock.ThreadMs();
            app.LayoutAndDraw(true);
            double c1 = CpuClock.ThreadMs();
            app.LayoutAndDraw();
            double c2 = CpuClock.ThreadMs();
            _ = app.Driver!.ToString();
            double c3 = CpuClock.ThreadMs();
            runsList.Refresh();
            app.LayoutAndDraw();
            double c4 = CpuClock.ThreadMs();
            Add("draw_forced_cpu", c1 - c0);
            Add("draw_clean_cpu", c2 - c1);
            Add("screen_text_cpu", c3 - c2);
            Add("table_update_draw_cpu", c4 - c3);
        }
        File.WriteAllLines(outFile + ".notes", notes);

        app.End(session);
        File.WriteAllText(outFile, JsonSerializer.Serialize(figures.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray())));
        return 0;
    }

    /// <summary>Per thread of this process: its name and CPU ms so far, from /proc/self/task/*/schedstat (nanoseconds).</summary>
    private static Dictionary<int, (string Name, double Ms)> ThreadCpu()
    {
        Dictionary<int, (string, double)> threads = [];
        foreach (string task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                long ns = long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture);
                threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = (name, ns / 1e6);
            }
            catch (Exception e) when (e is IOException or FormatException)
            {
                // the thread ended meanwhile
            }
        }
        return threads;
    }

    private static IEnumerable<View> Descendants(View view)
    {
        foreach (View sub in view.SubViews)
        {
            yield return sub;
            foreach (View below in Descendants(sub))
            {
                yield return below;
            }
        }
    }

    private static void PumpUntil(IApplication app, string text, TimeSpan within, Action? nudge = null)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            app.TimedEvents!.RunTimers();
            app.LayoutAndDraw();
            if ((app.Driver!.ToString() ?? "").Contains(text, StringComparison.Ordinal))
            {
                return;
            }
            nudge?.Invoke();
            if (Stopwatch.GetElapsedTime(start) > within)
            {
                throw new TimeoutException($"the screen never showed '{text}':\n{app.Driver!.ToString()}");
            }
            Thread.Sleep(1);
        }
    }

    /// <summary>Wall ms, this thread's CPU ms and MB allocated on this thread by <paramref name="action"/>.</summary>
    private static (double Wall, double Cpu, double AllocMb) Measure(Action action)
    {
        long allocBefore = GC.GetAllocatedBytesForCurrentThread();
        double cpuBefore = CpuClock.ThreadMs();
        long start = Stopwatch.GetTimestamp();
        action();
        double wall = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return (wall, CpuClock.ThreadMs() - cpuBefore, (GC.GetAllocatedBytesForCurrentThread() - allocBefore) / 1e6);
    }

    /// <summary>In a fresh process: new RunStore + first Refresh of --state-dir; prints the milliseconds.</summary>
    private static int LoadChild(BenchArgs args)
    {
        string stateDir = args.String("state-dir") ?? throw new BenchUsageException("--state-dir is needed");
        args.RejectUnused();
        long start = Stopwatch.GetTimestamp();
        RunStore store = new(new FileSystem(), new FlockFileLocks(), stateDir);
        store.Refresh();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        MemoryReading? after = MemoryReading.Of(Environment.ProcessId);
        // What the runtime gives back when asked hard (decommits free regions): is the rest of RSS garbage kept committed?
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        MemoryReading? aggressive = MemoryReading.Of(Environment.ProcessId);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{ms:F3} {heap / 1024.0:F0} {after?.RssKb ?? -1} {after?.HwmKb ?? -1} {aggressive?.RssKb ?? -1}"));
        GC.KeepAlive(store);
        return 0;
    }

    // ---- data ----

    /// <summary>snapshot.json with <paramref name="size"/> ended runs alternating over local-1/local-2; returns the newest id.</summary>
    private static (string NewestId, long SnapshotBytes) FillStore(string stateDir, int size)
    {
        FileSystem fs = new();
        StatePaths paths = new(Path.GetFullPath(stateDir));
        StateDirectory.Ensure(fs, paths.Root);
        List<RunRecord> records = new(size);
        HashSet<string> ids = new(size, StringComparer.Ordinal);
        DateTimeOffset epoch = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(3L * size + 60);
        for (int i = 0; i < size; i++)
        {
            string id;
            do
            {
                id = RunIds.New();
            }
            while (!ids.Add(id));
            long seq = i + 1;
            bool newest = i == size - 1;
            RunStatus status = newest ? RunStatus.Completed : (i % 100) switch
            {
                < 80 => RunStatus.Completed,
                < 92 => RunStatus.Failed,
                < 97 => RunStatus.Timeout,
                _ => RunStatus.Interrupted,
            };
            string testDir = newest ? "/srv/lab/tests/big-log" : $"/srv/lab/tests/suite-{seq % 37:00}/case-{seq % 211:000}";
            records.Add(SyntheticRuns.Record(paths, id, seq, BenchMachines[i % BenchMachines.Length], testDir, status, BenchSpec, epoch));
        }
        // Through the store's own writer, whatever its format (it is being reworked): one fsync'd snapshot, generation 1.
        new SnapshotFile(fs, paths).Write(new Snapshot(1, records));
        return (records[^1].Id, new FileInfo(paths.Snapshot).Length);
    }

    /// <summary>
    /// A log of numbered 80-byte lines, at least <paramref name="bytes"/> long, in 5 MB writes (only the digits
    /// change from line to line). Returns its size, its line count and its last line.
    /// </summary>
    private static (long Bytes, long Lines, string LastLine) WriteBigLog(string path, long bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        const int Digits = 10;
        const int LinesPerWrite = 65_536;
        byte[] template = Encoding.ASCII.GetBytes("0000000000 tdbench big log line: the quick brown fox jumps over the lazy dog.");
        byte[] line = new byte[LineBytes];
        Array.Fill(line, (byte)'.');
        template.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        byte[] buffer = new byte[LineBytes * LinesPerWrite];
        for (int i = 0; i < LinesPerWrite; i++)
        {
            line.CopyTo(buffer, i * LineBytes);
        }
        long lines = (bytes + LineBytes - 1) / LineBytes;
        using (FileStream stream = new(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0))
        {
            for (long first = 1; first <= lines; first += LinesPerWrite)
            {
                int count = (int)Math.Min(LinesPerWrite, lines - first + 1);
                for (int i = 0; i < count; i++)
                {
                    long n = first + i;
                    int at = i * LineBytes + Digits - 1;
                    for (int d = 0; d < Digits; d++, n /= 10)
                    {
                        buffer[at - d] = (byte)('0' + (int)(n % 10));
                    }
                }
                stream.Write(buffer, 0, count * LineBytes);
            }
        }
        string last = lines.ToString("D10", CultureInfo.InvariantCulture) + Encoding.ASCII.GetString(line, Digits, LineBytes - Digits - 1);
        return (lines * LineBytes, lines, last);
    }

    // ---- processes ----

    /// <summary>A finished process: exit code, output, wall ms and its user+system CPU ms (RUSAGE_CHILDREN delta).</summary>
    private sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, double Ms, double CpuMs);

    private static ProcessResult TimeProcess(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> env, TimeSpan? timeout = null)
    {
        ProcessStartInfo info = new(command[0])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }
        foreach ((string key, string value) in env)
        {
            info.Environment[key] = value;
        }
        double childrenBefore = CpuClock.ChildrenMs();
        long start = Stopwatch.GetTimestamp();
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {command[0]}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(1)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', command)} did not end in time");
        }
        process.WaitForExit();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        ProcessResult result = new(process.ExitCode, stdout.Result, stderr.Result, ms, CpuClock.ChildrenMs() - childrenBefore);
        return result;
    }

    /// <summary>The command that runs this benchmark program again: its apphost, or dotnet + its dll.</summary>
    private static string[] BenchProgram()
    {
        string process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && Assembly.GetEntryAssembly()?.Location is { Length: > 0 } dll
            ? [process, dll]
            : [process];
    }

    private static double ParseMs(string text) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) ? ms : double.NaN;

    private static string TmuxVersion()
    {
        try
        {
            return TimeProcess(["tmux", "-V"], new Dictionary<string, string>()).Stdout.Trim().Replace("tmux ", "", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return "?";
        }
    }

    // ---- formatting ----

    private static Samples Of(IEnumerable<double> values)
    {
        Samples samples = new();
        foreach (double value in values)
        {
            samples.Add(value);
        }
        return samples;
    }

    private static double Median(Dictionary<string, double[]> figures, string name) => Percentile(figures, name, 50);

    private static double Percentile(Dictionary<string, double[]> figures, string name, double p) =>
        figures.TryGetValue(name, out double[]? values) && values.Length > 0 ? Of(values).Percentile(p) : double.NaN;

    private static void Progress(string what) => Console.Error.WriteLine($"[bench] {what}");

    private static string MemoryText(long? kb) => kb is { } k ? MiB(k * 1024) : "?";

    private sealed record Options(int Runs, int LogMegabytes, int Starts, int Refreshes, string? Binary, string? Dir, bool Keep);

    /// <summary>One start: wall ms to the first frame and to the full screen, and the app's own CPU ms at each (10 ms ticks).</summary>
    private sealed record StartResult(double FrameMs, double FullMs, int Pid, MemoryReading? Memory, double FrameCpuMs, double FullCpuMs);

    /// <summary>Kills every agent agent.log says was started on the state dir (a pid that is no longer a testdispatch is left alone).</summary>
    private static void StopAgents(string stateDir)
    {
        string log = new StatePaths(stateDir).AgentLog;
        if (!File.Exists(log))
        {
            return;
        }
        foreach (System.Text.RegularExpressions.Match started in System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(log), @"agent (\d+) started on"))
        {
            try
            {
                using Process agent = Process.GetProcessById(int.Parse(started.Groups[1].Value, CultureInfo.InvariantCulture));
                if (agent.ProcessName == "testdispatch" || agent.ProcessName == "dotnet")
                {
                    agent.Kill();
                    agent.WaitForExit(10_000);
                }
            }
            catch (ArgumentException)
            {
            }
        }
    }

    /// <summary>VmRSS and VmHWM of a live process, in kB.</summary>
    private sealed record MemoryReading(long RssKb, long HwmKb)
    {
        public static MemoryReading? Of(int pid)
        {
            long rss = -1;
            long hwm = -1;
            try
            {
                foreach (string line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        rss = Kb(line);
                    }
                    else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        hwm = Kb(line);
                    }
                }
            }
            catch (IOException)
            {
                return null;
            }
            return rss < 0 || hwm < 0 ? null : new MemoryReading(rss, hwm);
        }

        private static long Kb(string line) =>
            long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    /// <summary>One tmux server on a private socket (no user config), one session whose single pane is respawned per start.</summary>
    private sealed class TuiTmux : IDisposable
    {
        private const string Session = "tuibench";
        private readonly string _socket = $"tdbench-tui-{Environment.ProcessId}-{RunIds.New()[..6]}";
        private readonly IReadOnlyDictionary<string, string> _env;
        private readonly HashSet<int> _apps = [];

        public TuiTmux(int width, int height, IReadOnlyDictionary<string, string> env)
        {
            _env = env;
            Run(["-f", "/dev/null", "new-session", "-d", "-s", Session, "-x", $"{width}", "-y", $"{height}", "sleep", "86400"]);
            Run(["set-option", "-w", "-t", Session, "remain-on-exit", "on"]);
        }

        public void Respawn(IReadOnlyList<string> command)
        {
            List<string> args = ["respawn-pane", "-k", "-t", Session];
            foreach ((string key, string value) in _env)
            {
                args.AddRange(["-e", $"{key}={value}"]);
            }
            Run([.. args, .. command]);
        }

        public string Capture() => Run(["capture-pane", "-p", "-t", Session]);

        public void Keys(params string[] keys) => Run(["send-keys", "-t", Session, .. keys]);

        public int PanePid() => int.Parse(Run(["display-message", "-p", "-t", Session, "#{pane_pid}"]).Trim(), CultureInfo.InvariantCulture);

        /// <summary>Remembers an app process started here, to make sure it is gone when the server is.</summary>
        public void Started(int pid) => _apps.Add(pid);

        public bool PaneDead() => Run(["display-message", "-p", "-t", Session, "#{pane_dead}"]).Trim() == "1";

        private string Run(IReadOnlyList<string> args)
        {
            ProcessResult result = TimeProcess(["tmux", "-L", _socket, .. args], new Dictionary<string, string>());
            return result.ExitCode == 0
                ? result.Stdout
                : throw new InvalidOperationException($"tmux {string.Join(' ', args)} failed ({result.ExitCode}): {result.Stderr}");
        }

        public void Dispose()
        {
            try
            {
                TimeProcess(["tmux", "-L", _socket, "kill-server"], new Dictionary<string, string>());
            }
            catch (InvalidOperationException)
            {
            }
            // An app that outlived its terminal would keep running: end the ones this benchmark started, by pid.
            foreach (int pid in _apps)
            {
                try
                {
                    using Process app = Process.GetProcessById(pid);
                    if (app.ProcessName.StartsWith("testdispatch", StringComparison.Ordinal))
                    {
                        app.Kill();
                        app.WaitForExit(5000);
                    }
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // already gone
                }
            }
        }
    }

}
