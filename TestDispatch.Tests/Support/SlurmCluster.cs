using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Processes;

namespace TestDispatch.Tests.Support;

/// <summary>
/// A real Slurm cluster on 127.0.0.1 for the tests (docs/SLURM-FACTS.md): its own munged (own key and socket), one
/// slurmctld and three slurmd (n1 and n2 with feature <c>fast</c>, n3 <c>slow</c>) in partition <c>lab</c>, on free ports,
/// with every file in a throwaway dir. Client commands reach it only through <see cref="ClientEnvironment"/>; a system
/// Slurm or munge is never touched. Shared by the whole test run through <see cref="SlurmCollection"/>.
/// Invariant: every process it starts, and every job step and job process those start, carries SLURM_CONF=<see cref="ConfPath"/>
/// in its environment (slurmd passes it on even to <c>--export=NONE</c> jobs): that is how cleanup finds them all.
/// </summary>
public sealed class SlurmCluster : IAsyncLifetime
{
    public const string Partition = SlurmConfig.Partition;

    /// <summary>How long an ended job stays visible (slurm.conf MinJobAge); slurmctld purges once a minute, so 60-120 s in all.</summary>
    public static readonly TimeSpan MinJobAge = TimeSpan.FromSeconds(60);

    public static readonly IReadOnlyList<string> Nodes = SlurmConfig.Nodes;

    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new("td-slurm-");
    private bool _controllerStopped;

    public SlurmCluster()
    {
        // munged refuses a socket whose directories are not searchable by all.
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_101_101);
        Name = "td" + Path.GetFileName(_dir.Path).Replace("td-slurm-", "", StringComparison.Ordinal).ToLowerInvariant();
        foreach (string dir in new[] { "munge", "state", "spool", "log", "run", "jobs" })
        {
            Directory.CreateDirectory(Combine(dir));
        }
        File.SetUnixFileMode(JobsDir, (UnixFileMode)0b111_111_111);
    }

    /// <summary>Whether this host has Slurm and munge (<c>apt-get install slurm-wlm munge</c>).</summary>
    public static bool Available => new[] { "/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch" }.All(File.Exists);

    /// <summary>slurm.conf ClusterName: unique to this instance, and in every job's SLURM_CLUSTER_NAME.</summary>
    public string Name { get; }

    public string Dir => _dir.Path;

    public string ConfPath => Combine("slurm.conf");

    /// <summary>A directory every job may read and write: for the tests' scripts and job output.</summary>
    public string JobsDir => Combine("jobs");

    /// <summary>What sbatch, squeue, scancel, scontrol and sinfo need to talk to this cluster and no other.</summary>
    public IReadOnlyDictionary<string, string?> ClientEnvironment => new Dictionary<string, string?> { ["SLURM_CONF"] = ConfPath };

    public string Combine(params string[] parts) => _dir.Combine(parts);

    public async Task InitializeAsync()
    {
        if (!Available)
        {
            throw new InvalidOperationException("Slurm is not installed here: apt-get install -y slurm-wlm munge (as .ci/run does)");
        }
        try
        {
            await StartMunge();
            // A free port can be taken by someone else before a daemon binds it: try others.
            for (int attempt = 1; ; attempt++)
            {
                WriteConfig();
                await StartDaemon("slurmctld");
                foreach (string node in Nodes)
                {
                    await StartDaemon("slurmd", "-N", node);
                }
                try
                {
                    await WaitUntilIdle();
                    return;
                }
                catch (TimeoutException) when (attempt < 3 && Logs().Contains("Address already in use", StringComparison.Ordinal))
                {
                    await KillAll(except: MungePid());
                    foreach (string log in Directory.EnumerateFiles(Combine("log")))
                    {
                        File.Delete(log);
                    }
                }
            }
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops every daemon, every job step and every process a job left behind, then removes the dir.</summary>
    public async Task DisposeAsync()
    {
        await KillAll();
        _dir.Dispose();
    }

    /// <summary>Runs a client command (sbatch, squeue, ...) against this cluster; never throws for a non-zero exit.</summary>
    public async Task<BufferedCommandResult> Run(string program, IEnumerable<string> arguments, CancellationToken cancellationToken = default)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        return await Cli.Wrap(program).WithArguments(arguments).WithEnvironmentVariables(ClientEnvironment)
            .WithWorkingDirectory(JobsDir).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(timeout.Token);
    }

    public Task<BufferedCommandResult> Run(string program, params string[] arguments) => Run(program, (IEnumerable<string>)arguments);

    /// <summary>Kills slurmctld (SIGTERM, as systemd would) and waits until it is gone: clients then fail to connect.</summary>
    public async Task StopController()
    {
        _controllerStopped = true;
        if (ControllerPid() is { } pid)
        {
            Libc.Kill(pid, Libc.SIGTERM);
            await Until(() => Task.FromResult<object?>(ProcFs.Stat(pid) is null or ["Z", ..] ? "" : null), TimeSpan.FromSeconds(20), () => "slurmctld to exit");
        }
    }

    /// <summary>Starts slurmctld again from its saved state and waits until it answers and every node has registered again.</summary>
    public async Task StartController()
    {
        await StartDaemon("slurmctld");
        _controllerStopped = false;
        await Until(async () =>
        {
            BufferedCommandResult sinfo = await Run("sinfo", "-h", "-N", "-o", "%N|%t");
            return sinfo.ExitCode == 0 && Nodes.All(n => sinfo.StandardOutput.Contains($"{n}|", StringComparison.Ordinal)) &&
                !sinfo.StandardOutput.Contains("unk", StringComparison.Ordinal) && !sinfo.StandardOutput.Contains('*') ? sinfo : null;
        }, StartDeadline, () => $"slurmctld to be back with every node registered\n{Logs()}");
    }

    /// <summary>Drains <paramref name="node"/>: a job running there goes on, no new job starts there.</summary>
    public async Task Drain(string node, string reason = "td: drained by a test")
    {
        await Must(Run("scontrol", "update", $"nodename={node}", "state=drain", $"reason={reason}"));
        await Until(async () => (await NodeState(node)) is { } state && state.StartsWith("drain", StringComparison.Ordinal) ? state : null,
            TimeSpan.FromSeconds(20), () => $"{node} to drain");
    }

    public async Task Resume(string node)
    {
        await Must(Run("scontrol", "update", $"nodename={node}", "state=resume"));
        await Until(async () => (await NodeState(node)) is { } state && !state.Contains("drain", StringComparison.Ordinal) && !state.Contains('*') ? state : null,
            TimeSpan.FromSeconds(20), () => $"{node} to be resumed");
    }

    /// <summary>
    /// Brings the cluster back to how a test expects to find it: controller up, no job queued or running, no process a
    /// job left behind, every node resumed and idle. The tests call it before each test, so one failing test leaves
    /// nothing for the next.
    /// </summary>
    public async Task Reset()
    {
        if (_controllerStopped)
        {
            await StartController();
        }
        await Must(Run("scancel", "--partition", Partition));
        await Until(async () => (await Must(Run("squeue", "-h", "-o", "%i"))).StandardOutput.Trim().Length == 0 ? "" : null,
            TimeSpan.FromSeconds(30), () => "every job to end");
        await KillAll(jobsOnly: true);
        foreach (string node in Nodes)
        {
            if ((await NodeState(node)) is { } state && (state.Contains("drain", StringComparison.Ordinal) || state.StartsWith("down", StringComparison.Ordinal)))
            {
                await Resume(node);
            }
        }
        await WaitUntilIdle();
    }

    /// <summary>Waits until sinfo shows every node idle.</summary>
    public async Task WaitUntilIdle()
    {
        string said = "";
        await Until(async () =>
        {
            BufferedCommandResult sinfo = await Run("sinfo", "-h", "-N", "-o", "%N|%T|%E");
            said = sinfo.StandardOutput + sinfo.StandardError;
            return sinfo.ExitCode == 0 && Nodes.All(n => sinfo.StandardOutput.Contains($"{n}|idle|", StringComparison.Ordinal)) ? sinfo : null;
        }, StartDeadline, () => $"every node of the Slurm cluster to be idle; sinfo said:\n{said}\n{Logs()}");
    }

    /// <summary>The state sinfo gives <paramref name="node"/> (idle, allocated, drained, ...); null if sinfo did not answer.</summary>
    public async Task<string?> NodeState(string node)
    {
        BufferedCommandResult sinfo = await Run("sinfo", "-h", "-N", "-n", node, "-o", "%T");
        return sinfo.ExitCode == 0 ? sinfo.StandardOutput.Trim() : null;
    }

    /// <summary>Every process of this cluster: munged, the daemons, job steps, jobs and whatever jobs left behind.</summary>
    public IReadOnlyList<int> Processes() => [.. Directory.EnumerateDirectories("/proc")
        .Select(d => int.TryParse(Path.GetFileName(d), out int pid) ? pid : 0)
        .Where(pid => pid > 0 && pid != Environment.ProcessId && ProcFs.Stat(pid) is [not "Z", ..] && EnvironmentOf(pid).Contains($"SLURM_CONF={ConfPath}"))];

    /// <summary>The processes that run for a job (those with SLURM_JOB_ID), whether or not the job is still on.</summary>
    public IReadOnlyList<int> JobProcesses() => [.. Processes().Where(pid => EnvironmentOf(pid).Any(v => v.StartsWith("SLURM_JOB_ID=", StringComparison.Ordinal)))];

    /// <summary>The end of every daemon's log, for a failure message.</summary>
    public string Logs() => string.Join("\n", Directory.EnumerateFiles(Combine("log")).Append(Combine("munge", "munged.log")).Where(File.Exists).Order()
        .Select(log => $"--- {Path.GetFileName(log)} (last lines)\n{string.Join("\n", File.ReadLines(log).TakeLast(25))}"));

    private async Task StartMunge()
    {
        byte[] key = new byte[1024];
        System.Security.Cryptography.RandomNumberGenerator.Fill(key);
        File.WriteAllBytes(Combine("munge", "munge.key"), key);
        File.SetUnixFileMode(Combine("munge", "munge.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite); // munged refuses a key others can read
        File.SetUnixFileMode(Combine("munge"), (UnixFileMode)0b111_101_101);
        await StartDaemon("munged", $"--socket={MungeSocket}", $"--key-file={Combine("munge", "munge.key")}", $"--log-file={Combine("munge", "munged.log")}",
            $"--pid-file={Combine("munge", "munged.pid")}", $"--seed-file={Combine("munge", "munged.seed")}");
    }

    private string MungeSocket => Combine("munge", "socket");

    private void WriteConfig()
    {
        int[] ports = FreePorts(1 + Nodes.Count);
        SlurmConfig config = new(Name, Dir, MungeSocket, ports[0], ports[1..], MinJobAge);
        File.WriteAllText(ConfPath, config.Render());
    }

    /// <summary>Starts a daemon, which forks into the background; the marker in its environment passes to all it starts.</summary>
    private async Task StartDaemon(string program, params string[] arguments)
    {
        using CancellationTokenSource timeout = new(TimeSpan.FromSeconds(30));
        BufferedCommandResult result = await Cli.Wrap(program).WithArguments(arguments).WithEnvironmentVariables(ClientEnvironment)
            .WithWorkingDirectory(Dir).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(timeout.Token);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} did not start (exit {result.ExitCode}): {result.StandardError}\n{Logs()}");
        }
    }

    private int? ControllerPid() => PidFrom(Combine("run", "slurmctld.pid"));

    private int? MungePid() => PidFrom(Combine("munge", "munged.pid"));

    /// <summary>The pid in a daemon's pid file, if that process is still ours (a pid file outlives its daemon).</summary>
    private int? PidFrom(string pidFile) =>
        File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture, out int pid) && Processes().Contains(pid) ? pid : null;

    /// <summary>SIGKILLs this cluster's processes until none is left (a dying job may still fork): all, or only the jobs'.</summary>
    private async Task KillAll(bool jobsOnly = false, int? except = null)
    {
        await Until(() =>
        {
            IReadOnlyList<int> left = [.. (jobsOnly ? JobProcesses() : Processes()).Where(pid => pid != except)];
            foreach (int pid in left)
            {
                Libc.Kill(pid, Libc.SIGKILL);
            }
            return Task.FromResult<object?>(left.Count == 0 ? "" : null);
        }, TimeSpan.FromSeconds(20), () => $"the Slurm cluster's processes to end: {string.Join(' ', Processes())}");
    }

    private static async Task<BufferedCommandResult> Must(Task<BufferedCommandResult> command)
    {
        BufferedCommandResult result = await command;
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"a Slurm command failed (exit {result.ExitCode}): {result.StandardError}");
        }
        return result;
    }

    private static IReadOnlyList<string> EnvironmentOf(int pid)
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

    /// <summary>Waits for an async condition with a deadline (<see cref="Eventually"/> takes only synchronous ones).</summary>
    private static async Task<T> Until<T>(Func<Task<T?>> probe, TimeSpan within, Func<string> what) where T : class
    {
        DateTime deadline = DateTime.UtcNow + within;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {within.TotalSeconds:0} s waiting for {what()}");
            }
            await Task.Delay(100);
        }
    }

    private static int[] FreePorts(int count)
    {
        // All held at once, so that they differ.
        TcpListener[] listeners = [.. Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0))];
        foreach (TcpListener listener in listeners)
        {
            listener.Start();
        }
        int[] ports = [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        foreach (TcpListener listener in listeners)
        {
            listener.Dispose();
        }
        return ports;
    }
}
