using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;

using static TestDispatch.Bench.Figures;

namespace TestDispatch.Bench;

/// <summary>
/// The ssh transport against loopback sshds this benchmark starts (throwaway keys, free ports), in one run: (a) <c>run
/// --wait</c> of a trivial test with the agent and its master up (warm) and with neither (cold), against the bare
/// <c>rsync</c> + <c>ssh host cmd</c> it amounts to over a warm master of our own; (b) N trivial tests over the ssh
/// machines by one <c>batch submit --wait</c> against GNU parallel <c>-S</c> with <c>--transfer --return --cleanup
/// --controlmaster</c> over the same hosts. Figures and ratios, no assertions.
/// </summary>
internal static class SshBenchmark
{
    public static int Run(BenchArgs args)
    {
        int iters = args.Int("iters", min: 5) ?? 20;
        int jobs = args.Int("jobs", min: 4) ?? 200;
        int hosts = args.Int("hosts", min: 1) ?? 4;
        string binary = DispatchBenchmark.LocateBinary(args.String("testdispatch"));
        bool keep = args.Flag("keep");
        args.RejectUnused();
        string root = Directory.CreateTempSubdirectory("tdssh-").FullName;
        List<Sshd> servers = [];
        try
        {
            string keys = Path.Combine(root, "keys");
            Directory.CreateDirectory(keys);
            Exec("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(keys, "host"));
            Exec("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(keys, "user"));
            File.Copy(Path.Combine(keys, "user.pub"), Path.Combine(keys, "authorized_keys"));
            Directory.CreateDirectory("/run/sshd");
            for (int i = 1; i <= hosts; i++)
            {
                servers.Add(Sshd.Start(root, keys, i));
            }
            string knownHosts = Path.Combine(keys, "known_hosts");
            File.WriteAllLines(knownHosts, servers.Select(s => $"[127.0.0.1]:{s.Port} {File.ReadAllText(Path.Combine(keys, "host.pub")).Trim()}"));
            string key = Path.Combine(keys, "user");
            string[] sshOptions = ["-F", "/dev/null", "-o", $"UserKnownHostsFile={knownHosts}", "-o", "StrictHostKeyChecking=yes"];
            string machines = "[" + string.Join(",", servers.Select(s => $$"""
                {"Name":"rig-{{s.Index}}","Transport":"ssh","Host":"127.0.0.1","Port":{{s.Port}},"IdentityFile":"{{key}}","WorkRoot":"{{s.WorkRoot}}",
                 "Tags":["ssh"],"SshOptions":[{{string.Join(",", sshOptions.Select(o => $"\"{o}\""))}}]}
                """)) + "]";
            LabSandbox lab = new(binary, Path.Combine(root, "lab"), "60s", machines);
            string trivial = Path.Combine(root, "trivial");
            MakeTest(trivial, "echo ok");

            Console.Error.WriteLine($"[bench] run --wait over ssh, {iters} warm calls, {Math.Max(5, iters / 4)} cold");
            Samples warm = new(), cold = new(), bare = new();
            Check(lab.CallAsync("run", trivial, "--machine", "rig-1", "--wait").GetAwaiter().GetResult(), "first run");
            for (int i = 0; i < iters; i++)
            {
                warm.Add(Check(lab.CallAsync("run", trivial, "--machine", "rig-1", "--wait").GetAwaiter().GetResult(), "warm run").Milliseconds);
            }
            for (int i = 0; i < Math.Max(5, iters / 4); i++)
            {
                lab.StopAgentsAsync().GetAwaiter().GetResult();
                foreach (string socket in Directory.EnumerateFileSystemEntries(Path.Combine(lab.StateDir, "cm")))
                {
                    Exec("ssh", "-O", "exit", "-o", $"ControlPath={socket}", "127.0.0.1");
                }
                cold.Add(Check(lab.CallAsync("run", trivial, "--machine", "rig-1", "--wait").GetAwaiter().GetResult(), "cold run").Milliseconds);
            }
            lab.StopAgentsAsync().GetAwaiter().GetResult();

            // The bare equivalent over a warm master of our own: copy the test dir, run it, read its output.
            Sshd first = servers[0];
            string control = Path.Combine(root, "bare.sock");
            string[] ssh = [.. sshOptions, "-i", key, "-p", first.Port.ToString(CultureInfo.InvariantCulture), "-o", $"ControlPath={control}"];
            Exec("ssh", [.. ssh, "-f", "-N", "-M", "-o", "ControlPersist=120", "127.0.0.1"]);
            string rsyncShell = "ssh " + string.Join(' ', ssh.Append("-o").Append("ControlMaster=no"));
            string remote = Path.Combine(first.WorkRoot, "bare");
            for (int i = 0; i < iters; i++)
            {
                long start = Stopwatch.GetTimestamp();
                Exec("rsync", "-rlpt", "-e", rsyncShell, trivial + "/", $"127.0.0.1:{remote}/");
                Exec("ssh", [.. ssh, "-o", "ControlMaster=no", "127.0.0.1", $"cd {remote} && ./run.sh"]);
                bare.AddSince(start);
            }
            Exec("ssh", "-O", "exit", "-o", $"ControlPath={control}", "127.0.0.1");

            Console.Error.WriteLine($"[bench] {jobs} trivial tests over {hosts} ssh machines: batch submit --wait vs GNU parallel -S");
            string tests = Path.Combine(root, "lab", "tests");
            List<string> dirs = [];
            for (int i = 0; i < jobs; i++)
            {
                string dir = Path.Combine(tests, $"t{i:D4}");
                MakeTest(dir, "echo ok > \"${TESTDISPATCH_ARTIFACTS:-.}/out\"");
                dirs.Add($"tests/t{i:D4}");
            }
            string plan = Path.Combine(root, "lab", "plan.json");
            File.WriteAllText(plan, "{\"entries\":[" + string.Join(",", dirs.Select((d, i) => $"{{\"name\":\"e{i}\",\"test_dir\":\"{d}\",\"tags\":[\"ssh\"]}}")) + "]}");
            CliCall batch = Check(lab.CallAsync("batch", "submit", plan, "--wait").GetAwaiter().GetResult(), "batch");
            lab.StopAgentsAsync().GetAwaiter().GetResult();

            double? parallelMs = null;
            if (DispatchBenchmark.FindOnPath("parallel") is { } parallel)
            {
                string[] logins = [.. servers.Select(s => "1/ssh " + string.Join(' ', sshOptions) + $" -i {key} -p {s.Port} 127.0.0.1")];
                // Not through CliWrap: the processes parallel leaves behind for --controlmaster hold its output pipes open, so a
                // wait for their end would wait for them. Its own exit is the figure; what it leaves is killed after.
                ProcessStartInfo start = new(parallel) { WorkingDirectory = Path.Combine(root, "lab"), RedirectStandardOutput = true };
                foreach (string arg in (string[])["--will-cite", "--controlmaster", .. logins.SelectMany(l => new[] { "-S", l }), "--wd", "...",
                    "--transfer", "--return", "{}/out", "--cleanup", "cd {} && ./run.sh", ":::", .. dirs])
                {
                    start.ArgumentList.Add(arg);
                }
                long started = Stopwatch.GetTimestamp();
                using (Process run = Process.Start(start)!)
                {
                    run.WaitForExit();
                    parallelMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if (run.ExitCode != 0)
                    {
                        Console.Error.WriteLine($"[bench] parallel exited {run.ExitCode}");
                    }
                }
                Exec("pkill", "-f", key); // parallel's leftover master keepers and masters name our key
            }

            Console.WriteLine($"ssh transport, {hosts} loopback sshds (OpenSSH), one run");
            TextTable latency = new("trivial test", "median ms", "min ms", "max ms", "vs bare");
            latency.Add("bare rsync + ssh cmd, warm master", Ms(bare.Median), Ms(bare.Min), Ms(bare.Max), "1.00x");
            latency.Add("run --wait, agent and master up", Ms(warm.Median), Ms(warm.Min), Ms(warm.Max), Ratio(warm.Median / bare.Median));
            latency.Add("run --wait, cold (no agent, no master)", Ms(cold.Median), Ms(cold.Min), Ms(cold.Max), Ratio(cold.Median / bare.Median));
            latency.Write(Console.Out);
            Console.WriteLine();
            TextTable throughput = new("how", "wall s", "per test ms", "vs parallel");
            throughput.Add($"GNU parallel -S x{hosts} --controlmaster --transfer --return --cleanup", parallelMs is { } p ? Seconds(p) : "missing",
                parallelMs is { } pp ? Ms(pp / jobs) : "-", "1.00x");
            throughput.Add($"batch submit --wait ({jobs} entries, tags ssh)", Seconds(batch.Milliseconds), Ms(batch.Milliseconds / jobs), parallelMs is { } q ? Ratio(batch.Milliseconds / q) : "-");
            throughput.Write(Console.Out);
            Console.WriteLine();
            Console.WriteLine($"  warm run --wait within 1.3x of bare: {Ratio(warm.Median / bare.Median)} -> {(warm.Median / bare.Median <= 1.3 ? "met" : "NOT met")}");
            if (parallelMs is { } target)
            {
                Console.WriteLine($"  batch faster than parallel: {Ratio(batch.Milliseconds / target)} -> {(batch.Milliseconds < target ? "met" : "NOT met")}");
            }
            return 0;
        }
        finally
        {
            foreach (Sshd server in servers)
            {
                server.Stop();
            }
            if (!keep)
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private sealed record Sshd(int Index, int Port, string WorkRoot, int Pid)
    {
        public static Sshd Start(string root, string keys, int index)
        {
            string dir = Path.Combine(root, $"sshd-{index}");
            Directory.CreateDirectory(Path.Combine(dir, "remote"));
            int port = FreePort();
            string config = Path.Combine(dir, "sshd_config");
            File.WriteAllText(config, $"""
                Port {port}
                ListenAddress 127.0.0.1
                HostKey {Path.Combine(keys, "host")}
                PidFile {Path.Combine(dir, "sshd.pid")}
                AuthorizedKeysFile {Path.Combine(keys, "authorized_keys")}
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                MaxSessions 20
                """);
            Exec("/usr/sbin/sshd", "-f", config, "-E", Path.Combine(dir, "sshd.log"));
            string pidFile = Path.Combine(dir, "sshd.pid");
            for (int i = 0; i < 100 && !File.Exists(pidFile); i++)
            {
                Thread.Sleep(20);
            }
            return new Sshd(index, port, Path.Combine(dir, "remote"), int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture));
        }

        public void Stop() => Exec("kill", Pid.ToString(CultureInfo.InvariantCulture));
    }

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

    private static void Exec(string program, params string[] args) =>
        Cli.Wrap(program).WithArguments(args).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult();

    private static int FreePort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

}
