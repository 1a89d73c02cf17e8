using System.Diagnostics;
using System.Globalization;
using System.IO.Abstractions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Wrapper;
using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// RunStore on the real disk (real <see cref="FileSystem"/>, <see cref="FlockFileLocks"/>): commit latency
/// against a bare fsync'd append, cold load, and the "rewrite one JSON file per update" design that
/// docs/DESIGN.md §5 rejects, at several history sizes. Prints figures; asserts nothing.
/// </summary>
/// <remarks>
/// fsync latency on a VM disk drifts by several times within seconds (and other processes may share the
/// disk), so the commit phase interleaves: every round does one bare append and one commit pair on each
/// store, in rotating order. Each store and the baseline then see the same disk, and their ratios are fair.
/// </remarks>
internal sealed class StoreBenchmark
{
    /// <summary>The hidden subcommand a fresh child process runs to time one cold load.</summary>
    public const string LoadCommand = "store-load";

    private const int MachineCount = 50;
    private const int BusyMachines = 10; // machines 0..9 each hold one running run; commits use the 40 free ones
    private const int BaselineWarmup = 50;
    private const int CommitWarmup = 100;
    private const int NaiveWarmup = 2;
    private const int RecheckIterations = 500;
    private const int FreshProcessTries = 3;
    private const int CompactionTries = 3;

    private static readonly string[] Command = ["./run-test.sh", "--target", "lab", "--report", "junit"];
    private static readonly RunSpec Spec = new(Command, TimeSpan.FromMinutes(30));
    private static readonly int[] BatchSizes = [400, 4000];
    private static readonly DateTimeOffset Epoch = new(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

    private readonly FileSystem _fs = new();
    private readonly FlockFileLocks _locks = new();
    private readonly Options _options;
    private readonly string _root;
    private readonly TextWriter _out = Console.Out;

    private StoreBenchmark(Options options, string root)
    {
        _options = options;
        _root = root;
    }

    public static int Run(BenchArgs args)
    {
        Options options = new(
            Sizes: [.. (args.IntList("sizes", min: 100) ?? [1_000, 10_000, 100_000]).Distinct().Order()],
            Dir: args.String("dir"),
            BaselineIterations: args.Int("baseline-iters", min: 500) ?? 1_000,
            CommitIterations: args.Int("commit-iters", min: 300) ?? 1_000,
            ColdTries: args.Int("cold-tries") ?? 5,
            NaiveIterations: args.Int("naive-iters"),
            Keep: args.Flag("keep"));
        args.RejectUnused();
        int linesPerStore = 2 * (CommitWarmup + options.CommitIterations);
        if (linesPerStore >= StoreDefaults.CompactAfterLines)
        {
            throw new BenchUsageException(
                $"--commit-iters {options.CommitIterations} would write {linesPerStore} journal lines and trigger a compaction (every {StoreDefaults.CompactAfterLines})");
        }

        string root;
        if (options.Dir is { } parent)
        {
            Directory.CreateDirectory(parent);
            root = Path.Combine(Path.GetFullPath(parent), $"tdbench-{Environment.ProcessId}-{RunIds.New()[..6]}");
            Directory.CreateDirectory(root);
        }
        else
        {
            root = Directory.CreateTempSubdirectory("tdbench-").FullName;
        }

        try
        {
            new StoreBenchmark(options, root).Execute();
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

    /// <summary>
    /// In a fresh process: time <c>new RunStore(...)</c> + the first <c>Refresh()</c> of <paramref name="args"/>[0]
    /// and print "milliseconds gc-pause-milliseconds".
    /// </summary>
    public static int LoadOnce(IReadOnlyList<string> args)
    {
        if (args.Count != 1)
        {
            throw new BenchUsageException($"{LoadCommand} takes one state dir");
        }
        long start = Stopwatch.GetTimestamp();
        RunStore store = new(new FileSystem(), new FlockFileLocks(), args[0]);
        store.Refresh();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ms:F3} {GC.GetTotalPauseDuration().TotalMilliseconds:F3}"));
        GC.KeepAlive(store);
        return 0;
    }

    private void Execute()
    {
        Stopwatch total = Stopwatch.StartNew();
        int largest = _options.Sizes[^1];

        // What one commit writes: a terminal run's full record as one journal line, as Update appends it.
        RunRecord sample = MakeRecord(new StatePaths(Path.Combine(_root, $"store-{largest}")), RunIds.New(), largest, 17, RunStatus.Completed);
        byte[] line = [.. JsonSerializer.SerializeToUtf8Bytes(new JournalEntry(sample), StoreJson.Default.JournalEntry), (byte)'\n'];

        _out.WriteLine("TestDispatch store benchmark");
        _out.WriteLine($"  when      {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss}Z   {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} cpus, load average {SyntheticRuns.LoadAverage()}");
        _out.WriteLine($"  disk      {_root} ({DescribeMount(_root)})");
        _out.WriteLine($"  workload  {MachineCount} machines, {BusyMachines} of them busy with a running run, every other run terminal; one journal line ≈ {line.Length} B");
        _out.WriteLine();

        List<SizeResult> results = [];
        foreach (int size in _options.Sizes)
        {
            SizeResult result = new(size, new StatePaths(Path.Combine(_root, $"store-{size}")));
            Progress($"{size} runs: writing the snapshot");
            long start = Stopwatch.GetTimestamp();
            Fill(result.Paths, size);
            Progress($"{size} runs: snapshot of {MiB(_fs.FileInfo.New(result.Paths.Snapshot).Length)} written in {Stopwatch.GetElapsedTime(start).TotalSeconds:F2} s");
            result.SnapshotBytes = _fs.FileInfo.New(result.Paths.Snapshot).Length;
            results.Add(result);
        }

        Progress($"baseline: {_options.BaselineIterations} fsync'd appends of {line.Length} B");
        Samples baseline = MeasureBaseline(line, _options.BaselineIterations);

        Progress($"commits: {_options.CommitIterations} rounds (+{CommitWarmup} warm-up), each = 1 bare append + 1 commit pair per store");
        (Samples interleaved, Samples libcInterleaved) = MeasureCommits(line, results);

        foreach (SizeResult result in results)
        {
            Progress($"{result.Runs} runs: {_options.ColdTries} cold loads in this process, {FreshProcessTries} in fresh processes");
            MeasureColdLoads(result);
        }

        // Not a target, but the one commit in CompactAfterLines that pays for the whole history.
        foreach (SizeResult result in results)
        {
            Progress($"{result.Runs} runs: {CompactionTries} compactions");
            for (int t = 0; t < CompactionTries; t++)
            {
                FullCollect();
                MeasureCompaction(result);
            }
        }

        List<(int Entries, (Samples Wall, Samples Cpu) PerItem)> batchTakes = [];
        foreach (int entries in BatchSizes)
        {
            Progress($"a batch of {entries} entries: every item taken and finished on one machine");
            batchTakes.Add((entries, MeasureBatchTakes(entries)));
        }

        // The naive design last: rewriting (so freeing) tens of MiB per update can leave the disk slower for
        // a while (this one is mounted with 'discard'), which would bias whatever is measured after it.
        Progress($"baseline re-check: {RecheckIterations} appends");
        Samples afterStore = MeasureBaseline(line, RecheckIterations);
        foreach (SizeResult result in results)
        {
            int iterations = _options.NaiveIterations ?? Math.Clamp(2_000_000 / result.Runs, 20, 200);
            Progress($"{result.Runs} runs: naive design, {iterations} rewrites (+{NaiveWarmup} warm-up)");
            MeasureNaive(result, iterations);
        }
        Progress($"baseline re-check: {RecheckIterations} appends");
        Samples afterNaive = MeasureBaseline(line, RecheckIterations);

        Report(baseline, interleaved, libcInterleaved, afterStore, afterNaive, results, batchTakes);
        _out.WriteLine();
        _out.WriteLine($"total benchmark time {total.Elapsed.TotalSeconds:F1} s, load average now {SyntheticRuns.LoadAverage()}");
    }

    /// <summary>Writes snapshot.json (generation 1) with <paramref name="size"/> runs through the store's own writer.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Fill(StatePaths paths, int size)
    {
        StateDirectory.Ensure(_fs, paths.Root);
        List<RunRecord> records = new(size);
        HashSet<string> ids = new(size, StringComparer.Ordinal);
        for (int i = 0; i < size; i++)
        {
            string id;
            do
            {
                id = RunIds.New();
            }
            while (!ids.Add(id));
            // The newest BusyMachines runs are still running, one on each of machines 0..BusyMachines-1.
            bool active = i >= size - BusyMachines;
            int machine = active ? i - (size - BusyMachines) : i % MachineCount;
            records.Add(MakeRecord(paths, id, i + 1, machine, active ? RunStatus.Running : TerminalStatus(i)));
        }
        new SnapshotFile(_fs, paths).Write(new Snapshot(1, records));
    }

    private Samples MeasureBaseline(byte[] line, int iterations)
    {
        Samples samples = new();
        for (int i = -BaselineWarmup; i < iterations; i++)
        {
            double ms = AppendOnce(line);
            if (i >= 0)
            {
                samples.Add(ms);
            }
        }
        return samples;
    }

    /// <summary>
    /// The baseline: open for append, write one line, Flush(true) (= the runtime's fsync, whose failure it never
    /// reports), close. With <paramref name="libc"/>, the fsync is libc's, checked, as the store's is.
    /// </summary>
    private double AppendOnce(byte[] line, bool libc = false)
    {
        long start = Stopwatch.GetTimestamp();
        using (FileSystemStream stream = _fs.FileStream.New(Path.Combine(_root, "baseline.jsonl"), new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0,
        }))
        {
            stream.Write(line);
            if (libc)
            {
                if (LibcFsync.Instance.File(stream) is var errno and not 0)
                {
                    throw new IOException($"fsync failed: errno {errno}");
                }
            }
            else
            {
                stream.Flush(flushToDisk: true);
            }
        }
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>
    /// Rounds of: one bare append, and one commit pair (prepare a new run on a free machine, update it to
    /// completed) on each store, in an order that rotates every round. Returns the interleaved baseline, and the same
    /// bare append with libc's fsync (measured in the same rounds, so the two fsyncs compare fairly).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private (Samples Runtime, Samples Libc) MeasureCommits(byte[] line, List<SizeResult> results)
    {
        List<RunStore> stores = [.. results.Select(r => new RunStore(_fs, _locks, r.Paths.Root))];
        foreach (RunStore store in stores)
        {
            store.Refresh();
        }
        Samples baseline = new();
        Samples libc = new();
        int slots = stores.Count + 2; // slot 0 is the bare append, slot 1 the same with libc's fsync
        for (int i = -CommitWarmup; i < _options.CommitIterations; i++)
        {
            int n = i + CommitWarmup;
            string machine = MachineName(BusyMachines + n % (MachineCount - BusyMachines));
            string testDir = $"/srv/lab/tests/bench/case-{n:00000}";
            PrepareRequest request = new(machine, testDir, SyntheticRuns.Hash(testDir), Spec);
            for (int k = 0; k < slots; k++)
            {
                int slot = (n + k) % slots;
                if (slot < 2)
                {
                    double ms = AppendOnce(line, libc: slot == 1);
                    if (i >= 0)
                    {
                        (slot == 0 ? baseline : libc).Add(ms);
                    }
                }
                else
                {
                    CommitPair(stores[slot - 2], request, i >= 0 ? results[slot - 2] : null);
                }
            }
        }
        foreach (SizeResult result in results)
        {
            result.JournalLines = 2 * (CommitWarmup + _options.CommitIterations);
            result.JournalBytes = _fs.FileInfo.New(result.Paths.Journal(1)).Length;
            result.Compacted = new SnapshotFile(_fs, result.Paths).ReadGeneration() != 1;
        }
        return (baseline, libc);
    }

    private static void CommitPair(RunStore store, PrepareRequest request, SizeResult? record)
    {
        long start = Stopwatch.GetTimestamp();
        PrepareOutcome outcome = store.Prepare(request);
        long prepared = Stopwatch.GetTimestamp();
        if (outcome.Kind != PrepareKind.Created)
        {
            throw new InvalidOperationException($"prepare on {request.Machine} gave {outcome.Kind}, not Created: the benchmark's machine is not free");
        }
        store.Update(outcome.Run.Id, r =>
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            return r with { Run = r.Run with { Status = RunStatus.Completed, ExitCode = 0, StartedAt = now, EndedAt = now } };
        });
        long updated = Stopwatch.GetTimestamp();
        if (record is not null)
        {
            record.Prepare.Add(Stopwatch.GetElapsedTime(start, prepared).TotalMilliseconds);
            record.Update.Add(Stopwatch.GetElapsedTime(prepared, updated).TotalMilliseconds);
            record.Pair.Add(Stopwatch.GetElapsedTime(start, updated).TotalMilliseconds);
        }
    }

    private void MeasureColdLoads(SizeResult result)
    {
        for (int t = 0; t < _options.ColdTries; t++)
        {
            FullCollect();
            result.Cold.Add(ColdLoadOnce(result.Paths));
        }
        for (int t = 0; t < _options.ColdTries; t++)
        {
            FullCollect();
            ColdLoadSplitOnce(result.Paths, result);
            FullCollect();
            result.SnapshotRead.Add(SnapshotReadOnce(result.Paths));
        }
        FullCollect();
        for (int t = 0; t < FreshProcessTries; t++)
        {
            (double inProcess, double gcPause, double wall) = FreshProcessLoad(result.Paths);
            result.FreshLoad.Add(inProcess);
            result.FreshGcPause.Add(gcPause);
            result.FreshWall.Add(wall);
        }
    }

    // Each try is its own non-inlined method, so nothing from an earlier try (or from the fill) is still
    // reachable and inflating the GC's work: the heap is as close to a fresh process's as we can get here.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private double ColdLoadOnce(StatePaths paths)
    {
        long start = Stopwatch.GetTimestamp();
        RunStore store = new(_fs, _locks, paths.Root);
        store.Refresh();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        GC.KeepAlive(store);
        return ms;
    }

    /// <summary>The same work as a cold load, in pieces, to see where it goes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ColdLoadSplitOnce(StatePaths paths, SizeResult result)
    {
        TimeSpan pauseBefore = GC.GetTotalPauseDuration();
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long t0 = Stopwatch.GetTimestamp();
        byte[] bytes = _fs.File.ReadAllBytes(paths.Snapshot);
        long t1 = Stopwatch.GetTimestamp();
        Snapshot snapshot = new SnapshotFile(_fs, paths).Parse(bytes);
        long t2 = Stopwatch.GetTimestamp();
        TimeSpan pauseAfterParse = GC.GetTotalPauseDuration();
        RunIndex index = new();
        index.Load(snapshot.Runs, snapshot.Batches ?? []);
        long t3 = Stopwatch.GetTimestamp();
        (List<JournalEntry> entries, _, _) = new JournalFile(_fs, paths.Journal(snapshot.Generation)).ReadFrom(0, 0);
        foreach (JournalEntry entry in entries)
        {
            index.Apply(entry.Run!);
        }
        long t4 = Stopwatch.GetTimestamp();
        result.AllocatedMiB.Add((GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (double)(1 << 20));

        // The floor for a sequential JSON parse of this file: walk its tokens and materialize nothing.
        long w0 = Stopwatch.GetTimestamp();
        Utf8JsonReader reader = new(bytes, new JsonReaderOptions { AllowMultipleValues = true });
        while (reader.Read())
        {
        }
        result.TokenWalk.AddSince(w0);

        result.ReadFile.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
        result.ParseJson.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
        result.BuildIndex.Add(Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds);
        result.Journal.Add(Stopwatch.GetElapsedTime(t3, t4).TotalMilliseconds);
        result.ParseGcPause.Add((pauseAfterParse - pauseBefore).TotalMilliseconds);
        GC.KeepAlive(index);
    }

    /// <summary>SnapshotFile.Read() alone, as RunStore calls it (read the file, then parse it).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private double SnapshotReadOnce(StatePaths paths)
    {
        long start = Stopwatch.GetTimestamp();
        Snapshot snapshot = new SnapshotFile(_fs, paths).Read();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        GC.KeepAlive(snapshot);
        return ms;
    }

    /// <summary>A cold load as a CLI invocation pays it: a new process (runtime start, JIT, empty heap).</summary>
    private static (double InProcess, double GcPause, double Wall) FreshProcessLoad(StatePaths paths)
    {
        ProcessStartInfo start = new(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Under 'dotnet TestDispatch.Bench.dll' the process is the dotnet host: hand it the assembly again.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetExecutingAssembly().Location);
        }
        start.ArgumentList.Add(LoadCommand);
        start.ArgumentList.Add(paths.Root);

        long began = Stopwatch.GetTimestamp();
        using Process child = Process.Start(start) ?? throw new InvalidOperationException("could not start a child process");
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        string stdout = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        double wall = Stopwatch.GetElapsedTime(began).TotalMilliseconds;
        string[] figures = stdout.Trim().Split(' ');
        if (child.ExitCode != 0 || figures.Length != 2)
        {
            throw new InvalidOperationException($"the cold-load child failed (exit {child.ExitCode}): {stdout}{stderr.Result}");
        }
        return (double.Parse(figures[0], CultureInfo.InvariantCulture), double.Parse(figures[1], CultureInfo.InvariantCulture), wall);
    }

    /// <summary>
    /// One compaction (what the commit that reaches CompactAfterLines pays, under the state lock), then the
    /// Refresh() of another, already loaded store instance, which finds a new generation and re-reads it all.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MeasureCompaction(SizeResult result)
    {
        RunStore compactor = new(_fs, _locks, result.Paths.Root);
        compactor.Refresh();
        RunStore other = new(_fs, _locks, result.Paths.Root);
        other.Refresh();
        long start = Stopwatch.GetTimestamp();
        compactor.Compact();
        result.Compact.AddSince(start);
        start = Stopwatch.GetTimestamp();
        other.Refresh();
        result.CatchUpAfterCompact.AddSince(start);
        GC.KeepAlive(compactor);
    }

    /// <summary>One JSON file with every run, rewritten whole per update: lock, read, parse, change one run, write temp, fsync, rename, fsync dir.</summary>
    private void MeasureNaive(SizeResult result, int iterations)
    {
        string dir = Path.Combine(_root, $"naive-{result.Runs}");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "runs.json");
        string temp = file + ".tmp";
        string lockPath = Path.Combine(dir, "state.lock");
        // The runs the store was filled with (by then its snapshot also holds the benchmark's commits), as the public Run only.
        string[] ids = SeedNaiveFile(result.Paths, result.Runs, dir, file, temp);
        result.NaiveFileBytes = _fs.FileInfo.New(file).Length;

        for (int i = -NaiveWarmup; i < iterations; i++)
        {
            string target = ids[(int)((i + NaiveWarmup) * 7919L % ids.Length)];
            FullCollect();
            long start = Stopwatch.GetTimestamp();
            using (_locks.Acquire(lockPath, TimeSpan.FromSeconds(30)))
            {
                List<Run> runs = JsonSerializer.Deserialize(_fs.File.ReadAllBytes(file), NaiveJson.Default.ListRun)!;
                int at = runs.FindIndex(r => r.Id == target);
                runs[at] = runs[at] with { Status = RunStatus.Failed, ExitCode = 2, EndedAt = DateTimeOffset.UtcNow };
                WriteAtomically(dir, file, temp, runs);
            }
            if (i >= 0)
            {
                result.Naive.AddSince(start);
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private string[] SeedNaiveFile(StatePaths store, int count, string dir, string file, string temp)
    {
        List<Run> runs = [.. new SnapshotFile(_fs, store).Read().Runs.Take(count).Select(r => r.Run)];
        WriteAtomically(dir, file, temp, runs);
        return [.. runs.Select(r => r.Id)];
    }

    private void WriteAtomically(string dir, string file, string temp, List<Run> runs)
    {
        using (FileSystemStream stream = _fs.FileStream.New(temp, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite,
            BufferSize = 1 << 16,
        }))
        {
            JsonSerializer.Serialize(stream, runs, NaiveJson.Default.ListRun);
            stream.Flush(flushToDisk: true);
        }
        _fs.File.Move(temp, file, overwrite: true);
        new Durability(LibcFsync.Instance).SyncDirectory(dir, "");
    }

    /// <summary>
    /// What the agent's store work costs per batch item: TakeNext (the first waiting entry becomes a running run) and
    /// the Update that finishes it, each one fsync'd journal append under state.lock, for every item of one batch.
    /// </summary>
    private (Samples Wall, Samples Cpu) MeasureBatchTakes(int entries)
    {
        RunStore store = new(_fs, _locks, Path.Combine(_root, $"batch-{entries}"));
        store.AddBatch("bench", "/bench/plan.json", [.. Enumerable.Range(0, entries).Select(i => new BatchEntry
        {
            Name = $"e{i:00000}",
            TestDir = $"/bench/batch/t{i}",
            TestDirHash = SyntheticRuns.Hash($"/bench/batch/t{i}"),
            Tags = ["x86"],
            Spec = Spec,
        })]);
        Samples wall = new();
        Samples cpu = new();
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            double cpuStart = CpuClock.ThreadMs();
            if (store.TakeNext(MachineName(1), ["x86"]) is not { } run)
            {
                break;
            }
            store.Update(run.Id, r => r with { Run = r.Run with { Status = RunStatus.Completed, ExitCode = 0, EndedAt = DateTimeOffset.UtcNow } });
            cpu.Add(CpuClock.ThreadMs() - cpuStart);
            wall.AddSince(start);
        }
        return wall.Count == entries ? (wall, cpu) : throw new InvalidOperationException($"took {wall.Count} of {entries} items");
    }

    private void Report(Samples baseline, Samples interleaved, Samples libcInterleaved, Samples afterStore, Samples afterNaive, List<SizeResult> results, List<(int Entries, (Samples Wall, Samples Cpu) PerItem)> batchTakes)
    {
        double b = interleaved.Median;
        SizeResult smallest = results[0];
        SizeResult largest = results[^1];

        _out.WriteLine("Baseline: one fsync'd append of one journal-line-sized record (open append, write, Flush(true), close), ms");
        TextTable appends = new("when", "appends", "median", "p99", "min", "max");
        appends.Add("alone, before the commits", Int(baseline.Count), Ms(baseline.Median), Ms(baseline.P99), Ms(baseline.Min), Ms(baseline.Max));
        appends.Add("interleaved with the commits *", Int(interleaved.Count), Ms(interleaved.Median), Ms(interleaved.P99), Ms(interleaved.Min), Ms(interleaved.Max));
        appends.Add("interleaved, libc fsync **", Int(libcInterleaved.Count), Ms(libcInterleaved.Median), Ms(libcInterleaved.P99), Ms(libcInterleaved.Min), Ms(libcInterleaved.Max));
        appends.Add("alone, after the store phase", Int(afterStore.Count), Ms(afterStore.Median), Ms(afterStore.P99), Ms(afterStore.Min), Ms(afterStore.Max));
        appends.Add("alone, after the naive phase", Int(afterNaive.Count), Ms(afterNaive.Median), Ms(afterNaive.P99), Ms(afterNaive.Min), Ms(afterNaive.Max));
        appends.Write(_out);
        _out.WriteLine("  * the reference for every ratio below: measured in the same rounds as the commits, so under the same disk conditions");
        _out.WriteLine($"  ** the same append with libc's fsync(2), its result checked, as the store does it: {Ratio(libcInterleaved.Median / interleaved.Median)} of the runtime's");
        _out.WriteLine();

        _out.WriteLine($"Commit latency: Prepare (new pending run on a free machine) + Update (to completed), {_options.CommitIterations} pairs per store, ms");
        _out.WriteLine("  each operation = flock + catch-up check (snapshot head, journal length) + one fsync'd journal append; commit = pair / 2");
        TextTable commits = new("runs", "commit med", "commit p99", "pair med", "pair p99", "prepare med", "update med", "commit/baseline", $"vs {Count(smallest.Runs)}");
        foreach (SizeResult r in results)
        {
            commits.Add(Count(r.Runs), Ms(r.Pair.Median / 2), Ms(r.Pair.P99 / 2), Ms(r.Pair.Median), Ms(r.Pair.P99),
                Ms(r.Prepare.Median), Ms(r.Update.Median), Ratio(r.Pair.Median / 2 / b), Ratio(r.Pair.Median / smallest.Pair.Median));
        }
        commits.Write(_out);
        foreach (SizeResult r in results.Where(r => r.Compacted))
        {
            _out.WriteLine($"  note: the {Count(r.Runs)}-run store compacted during the measurement");
        }
        _out.WriteLine($"  (no compaction: each journal got {smallest.JournalLines} lines, under CompactAfterLines = {StoreDefaults.CompactAfterLines})");
        _out.WriteLine();

        _out.WriteLine($"Cold load: new RunStore(...) + first Refresh() over snapshot + journal, ms; in this process {_options.ColdTries} tries (full GC before each), fresh process {FreshProcessTries} tries");
        TextTable cold = new("runs", "snapshot", "journal", "median", "min", "max", "fresh proc", "(its GC)", "fresh wall");
        foreach (SizeResult r in results)
        {
            cold.Add(Count(r.Runs), MiB(r.SnapshotBytes), $"{r.JournalLines} lines, {MiB(r.JournalBytes)}",
                Ms(r.Cold.Median), Ms(r.Cold.Min), Ms(r.Cold.Max), Ms(r.FreshLoad.Median), Ms(r.FreshGcPause.Median), Ms(r.FreshWall.Median));
        }
        cold.Write(_out);
        _out.WriteLine("  fresh proc: the same load timed inside a new process (cold JIT, empty heap; median); (its GC): that process's total GC pause;");
        _out.WriteLine("  fresh wall: that process end to end (runtime start + load + exit), what a CLI command would add");
        _out.WriteLine();

        _out.WriteLine("Cold load split: the same work in pieces (medians, ms)");
        TextTable split = new("runs", "read file", "parse JSON", "(GC in it)", "build index", "journal", "sum", "allocated", "token walk", "SnapshotFile.Read()");
        foreach (SizeResult r in results)
        {
            split.Add(Count(r.Runs), Ms(r.ReadFile.Median), Ms(r.ParseJson.Median), Ms(r.ParseGcPause.Median), Ms(r.BuildIndex.Median), Ms(r.Journal.Median),
                Ms(r.ReadFile.Median + r.ParseJson.Median + r.BuildIndex.Median + r.Journal.Median),
                r.AllocatedMiB.Median.ToString("F0", CultureInfo.InvariantCulture) + " MiB", Ms(r.TokenWalk.Median), Ms(r.SnapshotRead.Median));
        }
        split.Write(_out);
        _out.WriteLine("  read file: ReadAllBytes(snapshot.json); parse JSON: SnapshotFile.Parse of those bytes (its record lines in parallel), with the GC pause inside it;");
        _out.WriteLine("  build index: RunIndex.Load; journal: JournalFile.ReadFrom(0) + Apply; allocated: bytes allocated by those four steps;");
        _out.WriteLine("  token walk: a bare Utf8JsonReader pass over the bytes on one thread (the floor for a sequential JSON parse of this file);");
        _out.WriteLine("  SnapshotFile.Read(): read + parse as RunStore does it");
        _out.WriteLine();

        _out.WriteLine($"Compaction (not a target; medians of {CompactionTries}, ms): Compact() = what the commit reaching CompactAfterLines pays, holding the state lock;");
        _out.WriteLine("  other's Refresh() = another, already loaded RunStore catching up afterwards: a new generation, so it re-reads the whole snapshot (parsing it before it takes the state lock)");
        TextTable compaction = new("runs", "Compact()", "other's Refresh()", "max Compact()");
        foreach (SizeResult r in results)
        {
            compaction.Add(Count(r.Runs), Ms(r.Compact.Median), Ms(r.CatchUpAfterCompact.Median), Ms(r.Compact.Max));
        }
        compaction.Write(_out);
        _out.WriteLine();

        _out.WriteLine("Batch items (not a target): TakeNext + the Update that finishes the run, per item, every item of one batch on one machine, ms");
        _out.WriteLine("  two fsync'd appends per item; CPU = this thread's, so the disk's waits are left out. Neither should grow with the batch");
        _out.WriteLine("  (CPU per item grew with it, by ~0.1 ms per 1000 entries, before each entry's state was kept up to date as its runs change)");
        (int smallBatch, (Samples smallWall, Samples smallCpu)) = batchTakes[0];
        TextTable takes = new("entries", "wall med", "wall p99", "wall/baseline", "CPU med", "CPU p99", $"CPU vs {Int(smallBatch)}");
        foreach ((int entries, (Samples wall, Samples cpu)) in batchTakes)
        {
            takes.Add(Int(entries), Ms(wall.Median), Ms(wall.P99), Ratio(wall.Median / b), Ms(cpu.Median), Ms(cpu.P99), Ratio(cpu.Median / smallCpu.Median));
        }
        takes.Write(_out);
        _out.WriteLine();

        _out.WriteLine("Naive design: one JSON file of List<Run>; per update: flock, read + parse it all, change one run, write temp, fsync, rename, fsync dir, ms");
        TextTable naive = new("runs", "file", "updates", "median", "p99", "naive/baseline", "naive/commit");
        foreach (SizeResult r in results)
        {
            naive.Add(Count(r.Runs), MiB(r.NaiveFileBytes), Int(r.Naive.Count), Ms(r.Naive.Median), Ms(r.Naive.P99),
                Ratio(r.Naive.Median / b), Ratio(r.Naive.Median / (r.Pair.Median / 2)));
        }
        naive.Write(_out);
        _out.WriteLine("  (the file holds only the public Run, less than the store's RunRecord, which favours the naive design)");
        _out.WriteLine();

        _out.WriteLine("Targets");
        double growth = largest.Pair.Median / smallest.Pair.Median;
        _out.WriteLine($"  commit latency {Count(largest.Runs)} within 1.5x of {Count(smallest.Runs)}: " +
            $"{Ms(largest.Pair.Median / 2)} vs {Ms(smallest.Pair.Median / 2)} ms per commit = {Ratio(growth)} -> {Verdict(growth <= 1.5)}");
        SizeResult worst = results.MaxBy(r => r.Pair.Median)!;
        double overBaseline = worst.Pair.Median / 2 / b;
        _out.WriteLine($"  per-commit within 2x of baseline: worst per-commit median {Ms(worst.Pair.Median / 2)} ms (at {Count(worst.Runs)}) " +
            $"vs {Ms(b)} ms = {Ratio(overBaseline)} -> {Verdict(overBaseline <= 2)}");
        string sizeNote = largest.Runs == 100_000 ? "" : $" (the target is for 100k; the largest size here is {Count(largest.Runs)})";
        _out.WriteLine($"  cold load of {Count(largest.Runs)} < 0.5 s: median {Seconds(largest.Cold.Median)} s in this process -> {Verdict(largest.Cold.Median < 500)}; " +
            $"{Seconds(largest.FreshLoad.Median)} s in a fresh process -> {Verdict(largest.FreshLoad.Median < 500)}{sizeNote}");
    }

    private static void Progress(string what) => Console.Error.WriteLine($"[bench] {what}");

    /// <summary>80% completed, 12% failed, 5% timeout, 3% interrupted.</summary>
    private static RunRecord MakeRecord(StatePaths paths, string id, long seq, int machine, RunStatus status) =>
        SyntheticRuns.Record(paths, id, seq, MachineName(machine), $"/srv/lab/tests/suite-{seq % 37:00}/case-{seq % 211:000}", status, Spec, Epoch,
            new RunProcess { Host = "local", WrapperPid = 20_000 + (int)(seq % 30_000), ProcessGroupId = 20_001 + (int)(seq % 30_000), StartTicks = 1_000_000 + seq * 97, AgentPid = 4242 });

    private static RunStatus TerminalStatus(int i) => (i % 100) switch
    {
        < 80 => RunStatus.Completed,
        < 92 => RunStatus.Failed,
        < 97 => RunStatus.Timeout,
        _ => RunStatus.Interrupted,
    };

    private static string MachineName(int i) => $"lab-m{i:00}";

    private static void FullCollect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>File system type and device of the mount holding <paramref name="path"/>, from /proc/mounts.</summary>
    private static string DescribeMount(string path)
    {
        try
        {
            (string Mount, string Type, string Device, string Flags) best = ("", "?", "?", "");
            foreach (string entry in File.ReadLines("/proc/mounts"))
            {
                string[] f = entry.Split(' ');
                if (f.Length < 4)
                {
                    continue;
                }
                string mount = f[1].Replace("\\040", " ", StringComparison.Ordinal);
                bool contains = mount == "/" || path == mount || path.StartsWith(mount + "/", StringComparison.Ordinal);
                if (contains && mount.Length >= best.Mount.Length)
                {
                    best = (mount, f[2], f[0], f[3]);
                }
            }
            return $"{best.Type} on {best.Device} at {best.Mount}, {best.Flags}";
        }
        catch (IOException)
        {
            return "mount unknown";
        }
    }


    private sealed record Options(
        IReadOnlyList<int> Sizes,
        string? Dir,
        int BaselineIterations,
        int CommitIterations,
        int ColdTries,
        int? NaiveIterations,
        bool Keep);

    private static class StoreDefaults
    {
        public static int CompactAfterLines { get; } = new StoreOptions().CompactAfterLines;
    }

    private sealed class SizeResult(int runs, StatePaths paths)
    {
        public int Runs { get; } = runs;
        public StatePaths Paths { get; } = paths;
        public long SnapshotBytes { get; set; }
        public long JournalBytes { get; set; }
        public int JournalLines { get; set; }
        public bool Compacted { get; set; }
        public long NaiveFileBytes { get; set; }
        public Samples Pair { get; } = new();
        public Samples Prepare { get; } = new();
        public Samples Update { get; } = new();
        public Samples Cold { get; } = new();
        public Samples FreshLoad { get; } = new();
        public Samples FreshGcPause { get; } = new();
        public Samples FreshWall { get; } = new();
        public Samples ReadFile { get; } = new();
        public Samples ParseJson { get; } = new();
        public Samples ParseGcPause { get; } = new();
        public Samples BuildIndex { get; } = new();
        public Samples Journal { get; } = new();
        public Samples AllocatedMiB { get; } = new();
        public Samples TokenWalk { get; } = new();
        public Samples SnapshotRead { get; } = new();
        public Samples Naive { get; } = new();
        public Samples Compact { get; } = new();
        public Samples CatchUpAfterCompact { get; } = new();
    }
}
