using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using CliWrap;
using TestDispatch.Engine;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// The agent, end to end, through the real built <c>testdispatch</c> binary: what a dispatch adds to a
/// trivial test (agent up and cold), throughput of many trivial tests over two local machines against
/// GNU parallel, and <c>logs -f</c> on a test printing as fast as it can (lag and the follower's memory).
/// Every benchmark gets its own state dir and config file. Prints figures; asserts nothing.
/// </summary>
internal sealed class DispatchBenchmark
{
    private const int StartupWarmup = 2;
    private const double SlowWakeUpMs = 200;
    private const int ParallelTries = 3;
    private const double FollowSleepSeconds = 1.0;
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MemoryPeriod = TimeSpan.FromMilliseconds(20);
    private static readonly string[] Sections = ["overhead", "throughput", "follow"];
    private static readonly string[] LocalTag = ["local"];
    private static readonly string[] SourceProjects = ["TestDispatch.Engine", "TestDispatch.Tui"];

    private readonly Options _options;
    private readonly string _root;
    private readonly string _binary;
    private readonly TextWriter _out = Console.Out;
    private readonly List<string> _problems = [];
    private int _sandboxes;

    private DispatchBenchmark(Options options, string root, string binary)
    {
        _options = options;
        _root = root;
        _binary = binary;
    }

    public static int Run(BenchArgs args)
    {
        Options options = new(
            Binary: args.String("testdispatch"),
            Iterations: args.Int("iters", min: 10) ?? 20,
            Jobs: args.Int("jobs", min: 10) ?? 200,
            FollowMegabytes: [.. (args.IntList("follow-mb") ?? [20, 200]).Distinct().Order()],
            Only: args.String("only") is { } only
                ? [.. only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
                : Sections,
            Dir: args.String("dir"),
            Keep: args.Flag("keep"));
        args.RejectUnused();
        if (options.Only.FirstOrDefault(s => !Sections.Contains(s)) is { } unknown)
        {
            throw new BenchUsageException($"--only: '{unknown}' is not one of {string.Join(", ", Sections)}");
        }
        string binary = LocateBinary(options.Binary);

        string root;
        if (options.Dir is { } parent)
        {
            Directory.CreateDirectory(parent);
            root = Path.Combine(Path.GetFullPath(parent), $"tddispatch-{Environment.ProcessId}-{RunIds.New()[..6]}");
            Directory.CreateDirectory(root);
        }
        else
        {
            root = Directory.CreateTempSubdirectory("tddispatch-").FullName;
        }

        // Hermetic children: no user configuration file, no TESTDISPATCH__ overrides from this shell.
        string configHome = Path.Combine(root, "xdg-config");
        Directory.CreateDirectory(configHome);
        Environment.SetEnvironmentVariable("XDG_CONFIG_HOME", configHome);
        foreach (string key in Environment.GetEnvironmentVariables().Keys.Cast<string>()
                     .Where(k => k.StartsWith("TESTDISPATCH__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            Environment.SetEnvironmentVariable(key, null);
        }

        try
        {
            new DispatchBenchmark(options, root, binary).ExecuteAsync().GetAwaiter().GetResult();
        }
        finally
        {
            if (options.Keep)
            {
                Console.WriteLine($"scratch dir kept: {root}");
            }
            else
            {
                Directory.Delete(root, recursive: true);
            }
        }
        return 0;
    }

    /// <summary>The runtime identifier scripts/install.sh publishes for on this host (linux-x64, linux-arm64).</summary>
    private static string Rid => $"linux-{RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";

    /// <summary>
    /// --testdispatch PATH, else the published (native) binary that scripts/install.sh installs:
    /// TestDispatch.Tui/bin/Release/net10.0/&lt;rid&gt;/publish/testdispatch under the repository holding TestDispatch.sln.
    /// </summary>
    internal static string LocateBinary(string? given)
    {
        if (given is not null)
        {
            string full = Path.GetFullPath(given);
            return File.Exists(full) ? full : throw new BenchUsageException($"--testdispatch: {full} does not exist");
        }
        if (FindRepository() is { } repo)
        {
            string binary = Path.Combine(repo, "TestDispatch.Tui", "bin", "Release", "net10.0", Rid, "publish", "testdispatch");
            return File.Exists(binary)
                ? binary
                : throw new BenchUsageException(
                    $"{binary} is not published; run 'dotnet publish TestDispatch.Tui -c Release -r {Rid}' (or scripts/install.sh) in {repo} first " +
                    "(or pass --testdispatch PATH)");
        }
        throw new BenchUsageException("no TestDispatch.sln above this program or the current directory; pass --testdispatch PATH");
    }

    /// <summary>The repository holding TestDispatch.sln above this program or the current directory.</summary>
    private static string? FindRepository()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "TestDispatch.sln")))
                {
                    return dir.FullName;
                }
            }
        }
        return null;
    }

    private async Task ExecuteAsync()
    {
        Stopwatch total = Stopwatch.StartNew();
        _out.WriteLine("TestDispatch dispatch benchmark (the agent, through the real CLI)");
        _out.WriteLine($"  when      {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss}Z   {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} cpus, load average {SyntheticRuns.LoadAverage()}");
        _out.WriteLine($"  binary    {_binary} (built {File.GetLastWriteTimeUtc(_binary):yyyy-MM-dd HH:mm:ss}Z{StaleNote()})");
        _out.WriteLine($"  scratch   {_root}");
        _out.WriteLine($"  machines  local-1, local-2 (transport local); a fresh state dir and config file per benchmark");
        _out.WriteLine();

        OverheadResult? overhead = null;
        ThroughputResult? throughput = null;
        List<FollowResult> follows = [];
        if (_options.Only.Contains("overhead"))
        {
            overhead = await MeasureOverheadAsync();
            ReportOverhead(overhead);
        }
        if (_options.Only.Contains("throughput"))
        {
            throughput = await MeasureThroughputAsync();
            ReportThroughput(throughput);
        }
        if (_options.Only.Contains("follow"))
        {
            foreach (int mb in _options.FollowMegabytes)
            {
                follows.Add(await MeasureFollowAsync(mb));
            }
            ReportFollow(follows);
        }
        ReportTargets(overhead, throughput, follows);
        if (_problems.Count > 0)
        {
            _out.WriteLine();
            _out.WriteLine("Problems seen (figures above may be off because of them)");
            foreach (string problem in _problems.Distinct().Take(20))
            {
                _out.WriteLine($"  - {problem}");
            }
        }
        _out.WriteLine();
        _out.WriteLine($"total benchmark time {total.Elapsed.TotalSeconds:F1} s, load average now {SyntheticRuns.LoadAverage()}");
    }

    // ---------------------------------------------------------------- 1. dispatch overhead

    /// <summary>
    /// Rounds of one call of each kind, in a fixed order, after warm-ups: the host's load drifts (other
    /// processes share these 2 cpus), and interleaving gives every kind the same conditions.
    /// </summary>
    private async Task<OverheadResult> MeasureOverheadAsync()
    {
        int n = _options.Iterations;
        OverheadResult r = new();
        string trivial = MakeTestDir("overhead-trivial", "exit 0");
        string runSh = Path.Combine(trivial, "run.sh");
        LabSandbox warm = Sandbox("overhead-warm", "30s");
        LabSandbox cold = Sandbox("overhead-cold", "300ms");
        Lab lab = warm.OpenLab();
        try
        {
            Progress($"overhead: warm-ups (the first run starts the warm agent)");
            for (int i = 0; i < StartupWarmup; i++)
            {
                await DirectAsync(runSh, trivial, null);
                await TimedAsync(Cli.Wrap(_binary).WithArguments(["--help"]), "--help", null);
                await TimedAsync(warm.Command(["machines", "--json"]), "machines --json", null);
                await RunWaitAsync(warm, trivial, null);
                await InProcessAsync(lab, trivial, null);
            }

            Progress($"overhead: {n} rounds of: direct run.sh, --help, machines --json, run --wait (agent up), run (no wait), in-process dispatch+wait, run --wait (cold)");
            for (int i = 0; i < n; i++)
            {
                await DirectAsync(runSh, trivial, r.Direct);
                await TimedAsync(Cli.Wrap(_binary).WithArguments(["--help"]), "--help", r.Help);
                await TimedAsync(warm.Command(["machines", "--json"]), "machines --json", r.Machines);
                await RunWaitAsync(warm, trivial, r.Warm);

                CliCall call = await warm.CallAsync("run", trivial, "--machine", "local-1");
                if (Check(call, "run (no wait)"))
                {
                    r.DispatchOnly.Add(call.Milliseconds, call.CpuMs);
                    RunRecord record = warm.View.Store.Get(call.FirstLine);
                    r.DispatchToPrepared.Add((record.CreatedAt - call.StartedAt).TotalMilliseconds);
                    r.DispatchAfterPrepared.Add((call.EndedAt - record.CreatedAt).TotalMilliseconds);
                    await warm.View.WaitAsync(call.FirstLine); // not timed: the machine must be free for the next one
                }

                await InProcessAsync(lab, trivial, r.InProcess);

                // Cold: no agent on this state dir; the one this call starts exits 300 ms after the run
                // (AgentIdle), and is waited for, untimed, so it is gone before the next round.
                await RunWaitAsync(cold, trivial, r.Cold);
                if (!await cold.WaitAgentGoneAsync(TimeSpan.FromSeconds(10)))
                {
                    Problem("cold: the agent did not exit within 10 s of going idle");
                }
            }
            r.WarmAgentsStarted = warm.AgentPids().Count;
            r.ColdAgentsStarted = cold.AgentPids().Count;
        }
        finally
        {
            await warm.StopAgentsAsync();
            await cold.StopAgentsAsync();
        }
        return r;
    }

    private async Task DirectAsync(string runSh, string dir, Timed? into) =>
        await TimedAsync(Cli.Wrap(runSh).WithWorkingDirectory(dir), "direct run.sh", into);

    private async Task TimedAsync(Command command, string what, Timed? into)
    {
        CliCall call = await LabSandbox.TimeAsync(command);
        if (Check(call, what))
        {
            into?.Add(call.Milliseconds, call.CpuMs);
        }
    }

    private async Task InProcessAsync(Lab lab, string testDir, Phased? into)
    {
        double cpu = CpuTime.SelfMs();
        DateTimeOffset startedAt = DateTimeOffset.UtcNow;
        long start = Stopwatch.GetTimestamp();
        PrepareOutcome outcome = await lab.DispatchAsync(testDir, "local-1");
        Run ended = await lab.WaitAsync(outcome.Run.Id);
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        DateTimeOffset endedAt = DateTimeOffset.UtcNow;
        cpu = CpuTime.SelfMs() - cpu;
        if (ended.Status != RunStatus.Completed)
        {
            Problem($"in-process dispatch: run {ended.Id} ended {ended.Status.ToWord()} {ended.ErrorCode}");
        }
        into?.Add(ms, cpu, startedAt, lab.Store.Get(ended.Id), endedAt);
    }

    private async Task RunWaitAsync(LabSandbox lab, string testDir, Phased? into)
    {
        CliCall call = await lab.CallAsync("run", testDir, "--machine", "local-1", "--wait");
        if (Check(call, "run --wait") && into is not null)
        {
            into.Add(call.Milliseconds, call.CpuMs, call.StartedAt, lab.View.Store.Get(call.FirstLine), call.EndedAt);
        }
    }

    private void ReportOverhead(OverheadResult r)
    {
        int n = _options.Iterations;
        double direct = r.Direct.Total.Median;
        _out.WriteLine($"1. Dispatch overhead: a trivial test (run.sh = 'exit 0') on local-1, {n} interleaved rounds, wall time per call as the caller sees it, ms");
        TextTable table = new("what", "n", "median", "p90", "min", "max", "caller CPU", "added vs direct", "ratio");
        void Row(string what, Timed t, bool compare = true) => table.Add(what, Int(t.Total.Count), Ms(t.Total.Median), Ms(t.Total.Percentile(90)),
            Ms(t.Total.Min), Ms(t.Total.Max), Ms(t.Cpu.Median), compare ? Ms(t.Total.Median - direct) : "-", compare ? Ratio(t.Total.Median / direct) : "-");
        Row("direct: ./run.sh spawned with CliWrap", r.Direct, compare: false);
        Row("testdispatch --help (runtime start only)", r.Help);
        Row("testdispatch machines --json (+config, store)", r.Machines);
        Row("testdispatch run, no --wait, agent up", r.DispatchOnly);
        Row("testdispatch run --wait, agent up (warm)", r.Warm);
        Row("testdispatch run --wait, cold (starts agent)", r.Cold);
        Row("in-process Lab.DispatchAsync+WaitAsync, agent up", r.InProcess);
        table.Write(_out);
        _out.WriteLine("  caller CPU: median user+system CPU of the testdispatch process (getrusage of reaped children; the detached agent's is not in it),");
        _out.WriteLine("  for the in-process row this benchmark process's own CPU during the call");
        _out.WriteLine($"  agents started: {r.WarmAgentsStarted} for the {n + 1} warm runs (expect 1), {r.ColdAgentsStarted} for the {n} cold runs (expect {n})");
        _out.WriteLine();

        _out.WriteLine("   Where a run --wait's time goes (median / p90 of each phase, ms; from the run record's created/started/ended times, same host clock)");
        TextTable phases = new("what", "spawn→prepared", "prepared→started", "started→ended", "ended→returned", "total", "slow wake-ups");
        foreach ((string what, Phased p) in new[] { ("CLI run --wait, agent up", r.Warm), ("CLI run --wait, cold", r.Cold), ("in-process, agent up", r.InProcess) })
        {
            phases.Add(what, MedP90(p.ToPrepared), MedP90(p.Pickup), MedP90(p.Execute), MedP90(p.Notice), MedP90(p.Total),
                $"{p.SlowWakeUps}/{p.Total.Count}");
        }
        phases.Add("CLI run (no wait), agent up", MedP90(r.DispatchToPrepared), $"(exits {Ms(r.DispatchAfterPrepared.Median)} after)", "-", "-", MedP90(r.DispatchOnly.Total), "-");
        phases.Write(_out);
        _out.WriteLine("  spawn→prepared: process start, config, hashing the test dir, the pending run's fsync'd append (in-process: no process start);");
        _out.WriteLine("  prepared→started: the client's agent.lock probe (and, cold, launching the agent), the agent noticing (inotify) and marking it running;");
        _out.WriteLine("  started→ended: copying the test dir, setsid ./run.sh, the verdict's append; ended→returned: the waiter noticing, printing, exiting;");
        _out.WriteLine($"  slow wake-ups: calls where the agent's pickup or the waiter's notice took ≥ {SlowWakeUpMs:0} ms: the 250 ms poll instead of an inotify wake-up, or a CPU-starved agent/waiter");
        _out.WriteLine();
    }

    // ---------------------------------------------------------------- 2. throughput

    /// <summary>
    /// The same N trivial tests, each in its own dir, through: GNU parallel -j2 (the baseline), a bare
    /// spawn of run.sh in 2 lanes (the floor), the CLI in 2 lanes (like parallel's 2 job slots, one per
    /// machine), and the engine in-process in 2 lanes (no CLI process per job). Every variant but the
    /// baselines runs on a fresh state dir, and its wall time includes starting the agent.
    /// </summary>
    private async Task<ThroughputResult> MeasureThroughputAsync()
    {
        int jobs = _options.Jobs;
        ThroughputResult r = new();
        // Different content per dir: the same content would be one run while it is active (docs/DESIGN.md §4.2).
        Progress($"throughput: writing {jobs} test dirs");
        List<string> dirs = [.. Enumerable.Range(0, jobs).Select(i => MakeTestDir($"job-{i:000}", $"# job {i}\nexit 0"))];

        string? parallel = FindOnPath("parallel");
        if (parallel is null)
        {
            r.ParallelMissing = true;
            Problem("GNU parallel is not installed (no 'parallel' on PATH): no baseline for the throughput ratio");
        }
        else
        {
            Progress($"throughput: GNU parallel -j2 over the {jobs} run.sh, {ParallelTries} tries");
            for (int t = 0; t < ParallelTries; t++)
            {
                CliCall call = await LabSandbox.TimeAsync(Cli.Wrap(parallel).WithArguments(["--will-cite", "-j2", "{}/run.sh", ":::", .. dirs]));
                Check(call, "parallel");
                r.Parallel.Add(call.Milliseconds, call.CpuMs);
            }
        }

        Progress($"throughput: xargs -P2 over the same {jobs} run.sh, {ParallelTries} tries (the floor of a shell pipeline)");
        string list = Path.Combine(Path.GetDirectoryName(dirs[0])!, "dirs.txt");
        File.WriteAllLines(list, dirs.Select(d => Path.Combine(d, "run.sh")));
        for (int t = 0; t < ParallelTries; t++)
        {
            CliCall call = await LabSandbox.TimeAsync(Cli.Wrap("xargs").WithArguments(["-a", list, "-d", "\n", "-P2", "-n1", "env"]));
            Check(call, "xargs");
            r.Xargs.Add(call.Milliseconds, call.CpuMs);
        }

        Progress($"throughput: the same {jobs} run.sh spawned by CliWrap in 2 lanes (this process's spawn floor)");
        r.Spawn = await TimeLanesAsync(jobs, async (i, _) =>
        {
            CliCall call = await LabSandbox.TimeAsync(Cli.Wrap(Path.Combine(dirs[i], "run.sh")).WithWorkingDirectory(dirs[i]));
            Check(call, "direct run.sh");
            return call.Milliseconds;
        });

        Progress($"throughput: CLI, one 'testdispatch batch submit PLAN --wait' of the {jobs} dirs, any machine (tag 'local')");
        LabSandbox batch = Sandbox("throughput-batch", "30s");
        try
        {
            string plan = Path.Combine(batch.Root, "plan.json");
            File.WriteAllText(plan, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["name"] = "throughput",
                ["entries"] = dirs.Select(d => new Dictionary<string, object> { ["test_dir"] = d, ["tags"] = LocalTag }).ToList(),
            }));
            double cpu = CpuTime.ChildrenMs();
            CliCall call = await batch.CallAsync("batch", "submit", plan, "--wait");
            Check(call, "batch submit --wait");
            r.Batch.WallMs = call.Milliseconds;
            r.Batch.Calls.Add(call.Milliseconds);
            r.Batch.ClientCpuMs = CpuTime.ChildrenMs() - cpu;
            Summarize(batch, r.Batch);
        }
        finally
        {
            await batch.StopAgentsAsync();
        }

        Progress("throughput: CLI, 2 lanes of 'testdispatch run DIR --machine M' (no wait), each dispatching when the store shows its machine idle");
        LabSandbox noWait = Sandbox("throughput-cli-nowait", "30s");
        try
        {
            RunStore store = noWait.View.Store;
            DirectoryWatcher[] watchers = [.. LabSandbox.Machines.Select(_ => new DirectoryWatcher(noWait.View.FileSystem, noWait.StateDir))];
            try
            {
                r.CliNoWait = await TimeLanesAsync(jobs, async (i, machine) =>
                {
                    DirectoryWatcher watcher = watchers[Array.IndexOf(LabSandbox.Machines, machine)];
                    CliCall call = await noWait.CallAsync("run", dirs[i], "--machine", machine);
                    if (Check(call, "run (no wait)"))
                    {
                        // The lane's next dispatch would be machine_busy until this run ends: watch the store for it.
                        while (!store.Get(call.FirstLine).Run.Status.IsTerminal())
                        {
                            await watcher.WaitAsync(TimeSpan.FromMilliseconds(50));
                        }
                    }
                    return call.Milliseconds;
                });
            }
            finally
            {
                foreach (DirectoryWatcher watcher in watchers)
                {
                    watcher.Dispose();
                }
            }
            Summarize(noWait, r.CliNoWait);
        }
        finally
        {
            await noWait.StopAgentsAsync();
        }

        Progress("throughput: CLI, 2 lanes (one per machine) of 'testdispatch run DIR --machine M --wait'");
        LabSandbox wait = Sandbox("throughput-cli-wait", "30s");
        try
        {
            r.CliWait = await TimeLanesAsync(jobs, async (i, machine) =>
            {
                CliCall call = await wait.CallAsync("run", dirs[i], "--machine", machine, "--wait");
                Check(call, "run --wait");
                return call.Milliseconds;
            });
            Summarize(wait, r.CliWait);
        }
        finally
        {
            await wait.StopAgentsAsync();
        }

        Progress("throughput: in-process engine, 2 lanes of Lab.DispatchAsync + Lab.WaitAsync (the same agent binary executes)");
        LabSandbox engine = Sandbox("throughput-engine", "30s");
        try
        {
            Lab[] labs = [engine.OpenLab(), engine.OpenLab()];
            double cpu = CpuTime.SelfMs();
            r.Engine = await TimeLanesAsync(jobs, async (i, machine) =>
            {
                Lab lab = labs[Array.IndexOf(LabSandbox.Machines, machine)];
                long start = Stopwatch.GetTimestamp();
                PrepareOutcome outcome = await lab.DispatchAsync(dirs[i], machine);
                if (outcome.Kind != PrepareKind.Created)
                {
                    Problem($"in-process dispatch of {dirs[i]} on {machine}: {outcome.Kind}");
                }
                await lab.WaitAsync(outcome.Run.Id);
                return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            });
            r.Engine.ClientCpuMs = CpuTime.SelfMs() - cpu; // this whole process, bench included
            Summarize(engine, r.Engine);
        }
        finally
        {
            await engine.StopAgentsAsync();
        }
        return r;
    }

    /// <summary>
    /// Job i goes to lane i % 2 (machine local-1 or local-2); each lane runs its jobs one after another.
    /// Wall time of the whole, and the CPU of every child process reaped meanwhile.
    /// </summary>
    private static async Task<Variant> TimeLanesAsync(int jobs, Func<int, string, Task<double>> job)
    {
        Variant v = new();
        double cpu = CpuTime.ChildrenMs();
        long start = Stopwatch.GetTimestamp();
        Task<List<double>>[] lanes = [.. LabSandbox.Machines.Select((machine, lane) => Task.Run(async () =>
        {
            List<double> ms = [];
            for (int i = lane; i < jobs; i += LabSandbox.Machines.Length)
            {
                ms.Add(await job(i, machine));
            }
            return ms;
        }))];
        foreach (double ms in (await Task.WhenAll(lanes)).SelectMany(l => l))
        {
            v.Calls.Add(ms);
        }
        v.WallMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        v.ClientCpuMs = CpuTime.ChildrenMs() - cpu;
        return v;
    }

    /// <summary>Reads every run of the sandbox back from the store (verdicts, where the machines' time went) and the agent's CPU.</summary>
    private void Summarize(LabSandbox lab, Variant v)
    {
        IReadOnlyList<RunRecord> runs = lab.View.Store.List();
        v.Runs = runs.Count;
        v.Completed = runs.Count(r => r.Run.Status == RunStatus.Completed);
        foreach (RunRecord r in runs)
        {
            if (r.Run.StartedAt is { } started && r.Run.EndedAt is { } ended)
            {
                v.Pickup.Add((started - r.CreatedAt).TotalMilliseconds);
                v.Execute.Add((ended - started).TotalMilliseconds);
                v.ExecutingMs += (ended - started).TotalMilliseconds;
            }
        }
        IReadOnlyList<int> agents = lab.AgentPids();
        v.Agents = agents.Count;
        v.AgentCpuMs = lab.LiveAgentPid() is { } pid ? CpuTime.ProcessMs(pid) : null;
        if (v.Completed != _options.Jobs)
        {
            Problem($"{Path.GetFileName(lab.Root)}: {v.Completed} of {_options.Jobs} runs completed ({runs.Count} runs in the store; others: " +
                string.Join(", ", runs.Where(r => r.Run.Status != RunStatus.Completed).Select(r => $"{r.Id} {r.Run.Status.ToWord()} {r.Run.ErrorCode} {r.Run.ErrorMsg}")) + ")");
        }
    }

    private void ReportThroughput(ThroughputResult r)
    {
        int jobs = _options.Jobs;
        double? baseline = r.ParallelMissing ? null : r.Parallel.Total.Median;
        _out.WriteLine($"2. Throughput: {jobs} trivial tests (each its own dir, run.sh = '# job N; exit 0') over 2 machines / 2 job slots, wall clock");
        TextTable table = new("how", "wall s", "per job ms", "vs parallel", "call med ms", "client CPU/job", "agent CPU/job", "ok", "pickup med", "execute med", "machines busy");
        string Vs(double ms) => baseline is { } b ? Ratio(ms / b) : "n/a";
        string PerJob(double? ms) => ms is { } m ? Ms(m / jobs) : "?";
        if (!r.ParallelMissing)
        {
            table.Add($"GNU parallel -j2 (median of {r.Parallel.Total.Count}, {Seconds(r.Parallel.Total.Min)}–{Seconds(r.Parallel.Total.Max)} s)",
                Seconds(r.Parallel.Total.Median), Ms(r.Parallel.Total.Median / jobs), "1.00x", "-", PerJob(r.Parallel.Cpu.Median), "-", "-", "-", "-", "-");
        }
        else
        {
            table.Add("GNU parallel -j2", "missing", "-", "-", "-", "-", "-", "-", "-", "-", "-");
        }
        table.Add($"xargs -P2 (median of {r.Xargs.Total.Count})", Seconds(r.Xargs.Total.Median), Ms(r.Xargs.Total.Median / jobs), Vs(r.Xargs.Total.Median),
            "-", PerJob(r.Xargs.Cpu.Median), "-", "-", "-", "-", "-");
        table.Add("CliWrap spawn of run.sh, 2 lanes (floor)", Seconds(r.Spawn.WallMs), Ms(r.Spawn.WallMs / jobs), Vs(r.Spawn.WallMs), Ms(r.Spawn.Calls.Median),
            PerJob(r.Spawn.ClientCpuMs), "-", "-", "-", "-", "-");
        void Row(string how, Variant v) => table.Add(how, Seconds(v.WallMs), Ms(v.WallMs / jobs), Vs(v.WallMs), Ms(v.Calls.Median),
            PerJob(v.ClientCpuMs), PerJob(v.AgentCpuMs), $"{v.Completed}/{jobs}", v.Pickup.Count > 0 ? Ms(v.Pickup.Median) : "-",
            v.Execute.Count > 0 ? Ms(v.Execute.Median) : "-", Percent(v.ExecutingMs / (LabSandbox.Machines.Length * v.WallMs)));
        Row($"CLI: one 'batch submit --wait' of all {jobs} (chosen)", r.Batch);
        Row("CLI: 2 lanes of 'run' (no wait) + store watch", r.CliNoWait);
        Row("CLI: 2 lanes of 'run --wait'", r.CliWait);
        Row("in-process engine: 2 lanes of DispatchAsync+WaitAsync", r.Engine);
        table.Write(_out);
        _out.WriteLine("  chosen = the counterpart of parallel -j2 ::: DIRS: one command given every test, which the agent spreads over both machines");
        _out.WriteLine("  (a plan of N entries with tags [local]); the lanes show one CLI process per test, dispatched when its machine is idle");
        _out.WriteLine("  call med: one job's call (spawn: run.sh; CLI: one testdispatch process; engine: dispatch+wait); client CPU/job: CPU of the");
        _out.WriteLine("  processes this benchmark spawned (parallel: perl, shells, run.sh; CLI: testdispatch) or, engine, of this process; agent CPU/job:");
        _out.WriteLine("  the agent's utime+stime over the variant (it executes every run: the copy, setsid, journal appends); pickup: created→started of");
        _out.WriteLine("  each run (the agent noticing it); execute: started→ended; machines busy: share of the 2 machines' wall time spent executing a test");
        foreach ((string how, Variant v) in new[] { ("batch", r.Batch), ("no-wait", r.CliNoWait), ("--wait", r.CliWait), ("engine", r.Engine) }.Where(x => x.Item2.Agents != 1))
        {
            _out.WriteLine($"  note: {v.Agents} agents ran during the {how} variant; agent CPU counts only the last one");
        }
        _out.WriteLine();
    }

    // ---------------------------------------------------------------- 3. follow

    private async Task<FollowResult> MeasureFollowAsync(int megabytes)
    {
        long bytes = megabytes * 1_000_000L;
        Progress($"follow: {megabytes} MB test (100-byte lines from yes | head -c) with 'logs -f' started right after the dispatch");
        // The sleep lets the follower start before the first byte, so it must carry the whole log. yes's stderr
        // is dropped: tests inherit SIGPIPE ignored from the agent (.NET ignores it), so yes reports the
        // broken pipe instead of dying silently, which would add a line to the log.
        string dir = MakeTestDir($"follow-{megabytes}mb",
            $"sleep {FollowSleepSeconds.ToString("0.0##", CultureInfo.InvariantCulture)}\nyes \"$(printf '%099d' 0)\" 2>/dev/null | head -c {bytes}");
        LabSandbox lab = Sandbox($"follow-{megabytes}mb", "30s");
        FollowResult r = new(megabytes, bytes);

        // The floor for "written in": the same generator straight into a file (the shell's redirection, no agent in between).
        string generator = Path.Combine(lab.Root, "generate.sh");
        File.WriteAllText(generator, $"#!/bin/sh\nyes \"$(printf '%099d' 0)\" 2>/dev/null | head -c {bytes} > \"$1\"\n");
        File.SetUnixFileMode(generator, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string direct = Path.Combine(lab.Root, "direct.out");
        CliCall floor = await LabSandbox.TimeAsync(Cli.Wrap(generator).WithArguments([direct]));
        Check(floor, "follow: direct generator");
        r.DirectWriteSeconds = floor.Milliseconds / 1000;
        File.Delete(direct);
        try
        {
            CliCall dispatch = await lab.CallAsync("run", dir, "--machine", "local-1");
            if (!Check(dispatch, "follow: run"))
            {
                return r;
            }
            string id = dispatch.FirstLine;
            string logPath = lab.Paths.Log(id);
            CountingStream counter = new();
            System.Text.StringBuilder stderr = new();
            CommandTask<CommandResult> follower = lab.Command(["logs", "-f", id])
                .WithStandardOutputPipe(PipeTarget.ToStream(counter))
                .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
                .ExecuteAsync();
            int pid = follower.ProcessId;

            Task memory = Task.Run(async () =>
            {
                while (!follower.Task.IsCompleted)
                {
                    if (ProcMemory.Read(pid) is { } m)
                    {
                        r.FollowerPeakKiB = Math.Max(r.FollowerPeakKiB, Math.Max(m.HwmKiB, m.RssKiB));
                        r.FollowerMemorySamples++;
                    }
                    await Task.Delay(MemoryPeriod);
                }
            });
            List<(DateTimeOffset At, long Size, long Received)> samples = [];
            while (!follower.Task.IsCompleted)
            {
                samples.Add((DateTimeOffset.UtcNow, FileSize(logPath), counter.Count));
                await Task.WhenAny(follower.Task, Task.Delay(SamplePeriod));
            }
            CommandResult result = await follower;
            DateTimeOffset followerExited = DateTimeOffset.UtcNow;
            await memory;
            samples.Add((followerExited, FileSize(logPath), counter.Count));

            RunRecord record = lab.View.Store.Get(id);
            r.Status = record.Run.Status;
            r.FollowerExit = result.ExitCode;
            r.FileBytes = FileSize(logPath);
            r.Received = counter.Count;
            r.Skipped = r.FileBytes - r.Received; // logs -f starts at the last 100 lines: anything before that start
            if (record.Run.StartedAt is { } started && record.Run.EndedAt is { } ended)
            {
                r.WriteSeconds = (ended - started).TotalSeconds - FollowSleepSeconds;
                r.EndToExitMs = (followerExited - ended).TotalMilliseconds;
                (DateTimeOffset _, long size, long received) = samples.FirstOrDefault(s => s.At >= ended, samples[^1]);
                r.LagAtEnd = size - received - r.Skipped;
            }
            r.MaxLag = samples.Max(s => s.Size - s.Received - r.Skipped);
            r.Samples = samples.Count;
            if (lab.LiveAgentPid() is { } agent && ProcMemory.Read(agent) is { } agentMemory)
            {
                r.AgentPeakKiB = agentMemory.HwmKiB;
            }
            if (r.Status != RunStatus.Completed || result.ExitCode != 0)
            {
                Problem($"follow {megabytes} MB: run {id} {r.Status.ToWord()}, follower exit {result.ExitCode} {stderr.ToString().Trim()}");
            }
            if (r.Received != bytes || r.FileBytes != bytes)
            {
                Problem($"follow {megabytes} MB: log holds {r.FileBytes} B, follower delivered {r.Received} B, expected {bytes} B");
            }
        }
        finally
        {
            await lab.StopAgentsAsync();
            // Do not leave hundreds of MB in the scratch dir for the next benchmark's disk.
            TryDelete(lab.Paths.RunsDir);
        }
        return r;
    }

    private void ReportFollow(List<FollowResult> results)
    {
        _out.WriteLine($"3. Follow: 'testdispatch logs -f ID' (started right after the dispatch; the test sleeps {FollowSleepSeconds:0.#} s, then prints as fast as it can), stdout counted by the bench");
        TextTable table = new("log", "written in", "write rate", "direct to file", "follower got", "skipped", "max lag", "lag at run end", "run end→exit", "follower peak RSS", "agent peak RSS");
        foreach (FollowResult r in results)
        {
            table.Add($"{r.Megabytes} MB", $"{r.WriteSeconds:F2} s", r.WriteSeconds > 0 ? $"{r.Bytes / 1e6 / r.WriteSeconds:F0} MB/s" : "-",
                $"{r.DirectWriteSeconds:F2} s, {r.Bytes / 1e6 / r.DirectWriteSeconds:F0} MB/s",
                Size(r.Received), Size(r.Skipped), Size(r.MaxLag), Size(r.LagAtEnd), $"{r.EndToExitMs:F0} ms", MiB(r.FollowerPeakKiB * 1024L), MiB(r.AgentPeakKiB * 1024L));
        }
        table.Write(_out);
        _out.WriteLine($"  written in: the run's started→ended minus its {FollowSleepSeconds:0.#} s sleep (the agent piping the test's output into output.log);");
        _out.WriteLine("  direct to file: the same generator with the shell redirecting it into a file, no agent (the floor);");
        _out.WriteLine($"  lag = log file size − bytes the follower has delivered, sampled every {SamplePeriod.TotalMilliseconds:0} ms (the follower starts at the log's last 100 lines: 'skipped', ~0 here);");
        _out.WriteLine("  lag at run end: first sample at or after the run's ended_at; run end→exit: ended_at to the follower's exit as this process saw it;");
        _out.WriteLine($"  follower peak RSS: max VmHWM/VmRSS of the 'logs -f' process, polled every {MemoryPeriod.TotalMilliseconds:0} ms until it exits; agent peak: the agent's VmHWM (whole life)");
        foreach (FollowResult r in results)
        {
            _out.WriteLine($"  {r.Megabytes} MB: run {r.Status.ToWord()}, follower exit {r.FollowerExit}, {r.FollowerMemorySamples} memory samples, {r.Samples} lag samples");
        }
        _out.WriteLine();
    }

    // ---------------------------------------------------------------- targets

    private void ReportTargets(OverheadResult? overhead, ThroughputResult? throughput, List<FollowResult> follows)
    {
        _out.WriteLine("Targets");
        if (overhead is not null)
        {
            double added = overhead.Warm.Total.Median - overhead.Direct.Total.Median;
            _out.WriteLine($"  dispatch adds < 100 ms per run with the agent up: 'run --wait' median {Ms(overhead.Warm.Total.Median)} ms vs direct {Ms(overhead.Direct.Total.Median)} ms " +
                $"= +{Ms(added)} ms ({Ratio(overhead.Warm.Total.Median / overhead.Direct.Total.Median)}) -> {Verdict(added < 100)}");
            double engine = overhead.InProcess.Total.Median - overhead.Direct.Total.Median;
            _out.WriteLine($"    (engine alone, no CLI process: +{Ms(engine)} ms -> {Verdict(engine < 100)}; " +
                $"cold, starting the agent: +{Ms(overhead.Cold.Total.Median - overhead.Direct.Total.Median)} ms, not a target)");
        }
        if (throughput is not null)
        {
            if (throughput.ParallelMissing)
            {
                _out.WriteLine("  throughput TestDispatch/parallel < 1.0: GNU parallel missing, not measured");
            }
            else
            {
                double p = throughput.Parallel.Total.Median;
                double batch = throughput.Batch.WallMs / p;
                double noWait = throughput.CliNoWait.WallMs / p;
                double wait = throughput.CliWait.WallMs / p;
                double engine = throughput.Engine.WallMs / p;
                _out.WriteLine($"  throughput TestDispatch/parallel < 1.0 ({_options.Jobs} jobs): CLI 'batch submit --wait' {Seconds(throughput.Batch.WallMs)} s vs {Seconds(p)} s = {Ratio(batch)} -> {Verdict(batch < 1)}");
                _out.WriteLine($"    (a CLI process per test: 2 lanes 'run' (no wait) {Ratio(noWait)} -> {Verdict(noWait < 1)}, 'run --wait' {Ratio(wait)} -> {Verdict(wait < 1)}; in-process engine {Ratio(engine)} -> {Verdict(engine < 1)})");
            }
        }
        if (throughput is not null)
        {
            double x = throughput.Batch.WallMs / throughput.Xargs.Total.Median;
            _out.WriteLine($"  throughput vs xargs -P2 <= 3x: CLI 'batch submit --wait' {Seconds(throughput.Batch.WallMs)} s vs {Seconds(throughput.Xargs.Total.Median)} s = {Ratio(x)} -> {Verdict(x <= 3)}");
        }
        foreach (FollowResult r in follows)
        {
            _out.WriteLine($"  logs -f peak memory < 100 MB with a {r.Megabytes} MB log: {MiB(r.FollowerPeakKiB * 1024L)} -> {Verdict(r.FollowerPeakKiB > 0 && r.FollowerPeakKiB < 100 * 1024)}");
        }
        if (follows.Count >= 2 && follows[0].FollowerPeakKiB > 0)
        {
            _out.WriteLine($"    flat: peak at {follows[^1].Megabytes} MB / peak at {follows[0].Megabytes} MB = {Ratio((double)follows[^1].FollowerPeakKiB / follows[0].FollowerPeakKiB)}");
        }
    }

    // ---------------------------------------------------------------- helpers

    private LabSandbox Sandbox(string name, string agentIdle) =>
        new(_binary, Path.Combine(_root, $"{++_sandboxes:00}-{name}"), agentIdle);

    /// <summary>A test dir holding an executable run.sh with <paramref name="body"/> after the shebang.</summary>
    private string MakeTestDir(string name, string body)
    {
        string dir = Path.Combine(_root, "tests", name);
        Directory.CreateDirectory(dir);
        string script = Path.Combine(dir, "run.sh");
        File.WriteAllText(script, $"#!/bin/sh\n{body}\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return dir;
    }

    /// <summary>True if the call exited 0; otherwise records the problem.</summary>
    private bool Check(CliCall call, string what)
    {
        if (call.ExitCode == 0)
        {
            return true;
        }
        Problem($"{what}: exit {call.ExitCode}: {call.Stderr.Trim()}");
        return false;
    }

    private void Problem(string what)
    {
        lock (_problems)
        {
            _problems.Add(what);
        }
        Console.Error.WriteLine($"[bench] problem: {what}");
    }

    private string StaleNote()
    {
        DateTime built = File.GetLastWriteTimeUtc(_binary);
        if (FindRepository() is not { } repo || !_binary.StartsWith(repo + "/", StringComparison.Ordinal))
        {
            return "";
        }
        DateTime newest = SourceProjects
            .Select(p => Path.Combine(repo, p))
            .Where(Directory.Exists)
            .SelectMany(p => Directory.EnumerateFiles(p, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal))
            .Select(File.GetLastWriteTimeUtc)
            .DefaultIfEmpty(DateTime.MinValue)
            .Max();
        return newest > built ? $"; NOTE: sources changed since, at {newest:HH:mm:ss}Z: publish again with 'dotnet publish TestDispatch.Tui -c Release -r {Rid}'" : "";
    }

    internal static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private static long FileSize(string path)
    {
        try
        {
            return new FileInfo(path).Exists ? new FileInfo(path).Length : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"[bench] could not delete {dir}: {e.Message}");
        }
    }

    private static void Progress(string what) => Console.Error.WriteLine($"[bench] {what}");

    private static string MedP90(Samples s) => s.Count == 0 ? "-" : $"{Ms(s.Median)} / {Ms(s.Percentile(90))}";


    private static string Size(long b) => Math.Abs(b) >= 1_000_000
        ? (b / 1e6).ToString("F1", CultureInfo.InvariantCulture) + " MB"
        : Math.Abs(b) >= 1_000 ? (b / 1e3).ToString("F0", CultureInfo.InvariantCulture) + " kB" : b.ToString(CultureInfo.InvariantCulture) + " B";

    private sealed record Options(string? Binary, int Iterations, int Jobs, IReadOnlyList<int> FollowMegabytes, IReadOnlyList<string> Only, string? Dir, bool Keep);

    /// <summary>Wall times of calls that each ran one test to its end, with the phases its run record shows.</summary>
    /// <summary>Wall time and the caller's CPU time (the child's, or this process's for in-process calls) of calls of one kind, ms.</summary>
    private class Timed
    {
        public Samples Total { get; } = new();
        public Samples Cpu { get; } = new();

        public void Add(double ms, double cpuMs)
        {
            Total.Add(ms);
            Cpu.Add(cpuMs);
        }
    }

    private sealed class Phased : Timed
    {
        public Samples ToPrepared { get; } = new();
        public Samples Pickup { get; } = new();
        public Samples Execute { get; } = new();
        public Samples Notice { get; } = new();

        public int SlowWakeUps { get; private set; }

        public void Add(double ms, double cpuMs, DateTimeOffset callStarted, RunRecord record, DateTimeOffset callEnded)
        {
            Add(ms, cpuMs);
            if (record.Run.StartedAt is { } started && record.Run.EndedAt is { } ended)
            {
                double pickup = (started - record.CreatedAt).TotalMilliseconds;
                double notice = (callEnded - ended).TotalMilliseconds;
                ToPrepared.Add((record.CreatedAt - callStarted).TotalMilliseconds);
                Pickup.Add(pickup);
                Execute.Add((ended - started).TotalMilliseconds);
                Notice.Add(notice);
                if (pickup >= SlowWakeUpMs || notice >= SlowWakeUpMs)
                {
                    SlowWakeUps++;
                }
            }
        }
    }

    private sealed class OverheadResult
    {
        public Timed Direct { get; } = new();
        public Timed Help { get; } = new();
        public Timed Machines { get; } = new();
        public Timed DispatchOnly { get; } = new();
        public Samples DispatchToPrepared { get; } = new();
        public Samples DispatchAfterPrepared { get; } = new();
        public Phased Warm { get; } = new();
        public Phased Cold { get; } = new();
        public Phased InProcess { get; } = new();
        public int WarmAgentsStarted { get; set; }
        public int ColdAgentsStarted { get; set; }
    }

    private sealed class Variant
    {
        public double WallMs { get; set; }
        public Samples Calls { get; } = new();
        public Samples Pickup { get; } = new();
        public Samples Execute { get; } = new();
        public int Runs { get; set; }
        public int Completed { get; set; }
        public double ExecutingMs { get; set; }
        public double? ClientCpuMs { get; set; }
        public double? AgentCpuMs { get; set; }
        public int Agents { get; set; }
    }

    private sealed class ThroughputResult
    {
        public bool ParallelMissing { get; set; }
        public Timed Parallel { get; } = new();
        public Timed Xargs { get; } = new();
        public Variant Spawn { get; set; } = new();
        public Variant CliWait { get; set; } = new();
        public Variant CliNoWait { get; set; } = new();
        public Variant Engine { get; set; } = new();
        public Variant Batch { get; set; } = new();
    }

    private sealed class FollowResult(int megabytes, long bytes)
    {
        public int Megabytes { get; } = megabytes;
        public long Bytes { get; } = bytes;
        public RunStatus Status { get; set; }
        public int FollowerExit { get; set; } = -1;
        public long FileBytes { get; set; }
        public long Received { get; set; }
        public long Skipped { get; set; }
        public long MaxLag { get; set; }
        public long LagAtEnd { get; set; }
        public double WriteSeconds { get; set; }
        public double DirectWriteSeconds { get; set; }
        public double EndToExitMs { get; set; }
        public long FollowerPeakKiB { get; set; }
        public int FollowerMemorySamples { get; set; }
        public long AgentPeakKiB { get; set; }
        public int Samples { get; set; }
    }
}
