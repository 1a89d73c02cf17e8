using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.IO;
using TestDispatch.Tests.Support;

using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// The slurm transport against a 3-node Slurm cluster on 127.0.0.1 this benchmark starts (its own munged, slurmctld and
/// slurmd n1-n3, the tests' slurm.conf: docs/SLURM-FACTS.md), in one run: (a) <c>run --wait</c> of a trivial test on a node
/// machine, agent up, against <c>sbatch --wait</c> of the same script by hand; (b) N trivial tests by one <c>batch submit
/// --wait</c> over the three nodes (tag) against one Slurm job array of the same scripts (<c>sbatch --array=1-N --wait</c>).
/// <c>sbatch --wait</c> polls at 2, 10, 42 s… after submitting, so its figures are those steps. Figures and ratios, no assertions.
/// </summary>
internal static class SlurmBenchmark
{
    private static readonly string[] SlurmTag = ["slurm"];

    public static int Run(BenchArgs args)
    {
        int iters = args.Int("iters", min: 3) ?? 10;
        int jobs = args.Int("jobs", min: 3) ?? 100;
        string binary = DispatchBenchmark.LocateBinary(args.String("testdispatch"));
        bool keep = args.Flag("keep");
        args.RejectUnused();
        string root = Directory.CreateTempSubdirectory("tdslurm-").FullName;
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101); // munged wants its socket's directories searchable by all
        string conf = Path.Combine(root, "slurm.conf");
        // Every client, agent and daemon started from here reaches this cluster and no other.
        Environment.SetEnvironmentVariable("SLURM_CONF", conf);
        try
        {
            StartCluster(root, conf);
            string work = Path.Combine(root, "work");
            Directory.CreateDirectory(work);
            string machines = "[" + string.Join(",", SlurmConfig.Nodes.Select(n =>
                $$"""{"Name":"{{n}}","Transport":"slurm","Node":"{{n}}","Partition":"{{SlurmConfig.Partition}}","WorkRoot":{{JsonSerializer.Serialize(work)}},"Tags":["slurm"]}""")) + "]";
            LabSandbox lab = new(binary, Path.Combine(root, "lab"), "60s", machines);
            string trivial = Path.Combine(root, "trivial");
            MakeTest(trivial, "echo ok");

            Console.Error.WriteLine($"[bench] run --wait on n1 vs sbatch --wait -w n1, {iters} each");
            Samples run = new(), bare = new();
            Check(lab.CallAsync("run", trivial, "--machine", "n1", "--wait").GetAwaiter().GetResult(), "first run");
            for (int i = 0; i < iters; i++)
            {
                run.Add(Check(lab.CallAsync("run", trivial, "--machine", "n1", "--wait").GetAwaiter().GetResult(), "run").Milliseconds);
                long start = Stopwatch.GetTimestamp();
                Sbatch(root, "--wait", "-w", "n1", "-N1", "--exclusive", "-o", "/dev/null", Path.Combine(trivial, "run.sh"));
                bare.AddSince(start);
            }

            Console.Error.WriteLine($"[bench] {jobs} trivial tests over 3 nodes: batch submit --wait vs sbatch --array=1-{jobs} --wait");
            string tests = Path.Combine(root, "lab", "tests");
            for (int i = 1; i <= jobs; i++)
            {
                MakeTest(Path.Combine(tests, $"t{i}"), $"echo ok {i}");
            }
            string plan = Path.Combine(root, "lab", "plan.json");
            File.WriteAllText(plan, JsonSerializer.Serialize(new
            {
                entries = Enumerable.Range(1, jobs).Select(i => new { name = $"e{i}", test_dir = $"tests/t{i}", tags = SlurmTag }),
            }));
            CliCall batch = Check(lab.CallAsync("batch", "submit", plan, "--wait").GetAwaiter().GetResult(), "batch");
            lab.StopAgentsAsync().GetAwaiter().GetResult();
            string array = Path.Combine(root, "array.sh");
            File.WriteAllText(array, $"#!/bin/sh\ncd '{tests}'/t$SLURM_ARRAY_TASK_ID && ./run.sh\n");
            File.SetUnixFileMode(array, (UnixFileMode)0b111_101_101);
            long arrayStart = Stopwatch.GetTimestamp();
            Sbatch(root, "--wait", $"--array=1-{jobs}", "-p", SlurmConfig.Partition, "-N1", "--exclusive", "-o", "/dev/null", array);
            double arrayMs = Stopwatch.GetElapsedTime(arrayStart).TotalMilliseconds;

            Console.WriteLine("slurm transport, 3 Slurm 22.05 nodes on 127.0.0.1 (the tests' slurm.conf: batch_sched_delay=0), one run");
            TextTable latency = new("trivial test", "median ms", "min ms", "max ms", "vs bare");
            latency.Add("sbatch --wait -w n1 --exclusive (by hand)", Ms(bare.Median), Ms(bare.Min), Ms(bare.Max), "1.00x");
            latency.Add("run --machine n1 --wait, agent up", Ms(run.Median), Ms(run.Min), Ms(run.Max), Ratio(run.Median / bare.Median));
            latency.Write(Console.Out);
            Console.WriteLine();
            TextTable throughput = new($"{jobs} trivial tests over n1-n3", "total s", "ms per test", "vs array");
            throughput.Add($"sbatch --array=1-{jobs} --wait --exclusive", Seconds(arrayMs), Ms(arrayMs / jobs), "1.00x");
            throughput.Add("batch submit --wait (tag slurm)", Seconds(batch.Milliseconds), Ms(batch.Milliseconds / jobs), Ratio(batch.Milliseconds / arrayMs));
            throughput.Write(Console.Out);
            return 0;
        }
        finally
        {
            KillCluster(conf);
            if (keep)
            {
                Console.Error.WriteLine($"[bench] kept {root}");
            }
            else
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    /// <summary>munged with its own key and socket, slurmctld, slurmd n1-n3; returns once sinfo shows the three idle.</summary>
    private static void StartCluster(string root, string conf)
    {
        foreach (string dir in new[] { "munge", "state", "spool", "log", "run" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }
        string munge = Path.Combine(root, "munge");
        File.SetUnixFileMode(munge, (UnixFileMode)0b111_101_101);
        string key = Path.Combine(munge, "munge.key");
        File.WriteAllBytes(key, System.Security.Cryptography.RandomNumberGenerator.GetBytes(1024));
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string socket = Path.Combine(munge, "socket");
        Daemon("munged", $"--socket={socket}", $"--key-file={key}", $"--log-file={Path.Combine(munge, "munged.log")}",
            $"--pid-file={Path.Combine(munge, "munged.pid")}", $"--seed-file={Path.Combine(munge, "munged.seed")}");
        int[] ports = [.. Enumerable.Range(0, 1 + SlurmConfig.Nodes.Count).Select(_ => FreePort())];
        string name = "tdb" + Path.GetFileName(root).Replace("tdslurm-", "", StringComparison.Ordinal).ToLowerInvariant();
        File.WriteAllText(conf, new SlurmConfig(name, root, socket, ports[0], ports[1..], TimeSpan.FromSeconds(60)).Render());
        Daemon("slurmctld");
        foreach (string node in SlurmConfig.Nodes)
        {
            Daemon("slurmd", "-N", node);
        }
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (!SlurmConfig.Nodes.All(Exec("sinfo", "-h", "-N", "-o", "%N|%T").StandardOutput.Contains) || Exec("sinfo", "-h", "-N", "-o", "%N|%T").StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Any(l => !l.EndsWith("|idle", StringComparison.Ordinal)))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the Slurm cluster in {root} did not come up (see {Path.Combine(root, "log")})");
            }
            Thread.Sleep(100);
        }
    }

    /// <summary>SIGKILLs every process carrying this cluster's SLURM_CONF (daemons, job steps, jobs) until none is left.</summary>
    private static void KillCluster(string conf)
    {
        for (int round = 0; round < 100; round++)
        {
            int[] left = [.. Directory.EnumerateDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out int pid) ? pid : 0)
                .Where(pid => pid > 0 && pid != Environment.ProcessId && EnvironmentOf(pid).Contains($"SLURM_CONF={conf}"))];
            if (left.Length == 0)
            {
                return;
            }
            foreach (int pid in left)
            {
                Libc.Kill(pid, Libc.SIGKILL);
            }
            Thread.Sleep(100);
        }
    }

    private static string[] EnvironmentOf(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static void Daemon(string program, params string[] args)
    {
        BufferedCommandResult result = Exec(program, args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} did not start (exit {result.ExitCode}): {result.StandardError}");
        }
    }

    private static void Sbatch(string root, params string[] args)
    {
        BufferedCommandResult result = Cli.Wrap("sbatch").WithArguments(["--parsable", .. args]).WithWorkingDirectory(root)
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult();
        if (result.ExitCode != 0)
        {
            Console.Error.WriteLine($"[bench] sbatch exited {result.ExitCode}: {result.StandardError.Trim()}");
        }
    }

    private static BufferedCommandResult Exec(string program, params string[] args) =>
        Cli.Wrap(program).WithArguments(args).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult();

    private static void MakeTest(string dir, string body)
    {
        Directory.CreateDirectory(dir);
        string script = Path.Combine(dir, "run.sh");
        File.WriteAllText(script, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
    }

    private static CliCall Check(CliCall call, string what)
    {
        if (call.ExitCode != 0)
        {
            Console.Error.WriteLine($"[bench] {what} exited {call.ExitCode}: {call.Stderr.Trim()}");
        }
        return call;
    }

    private static int FreePort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
