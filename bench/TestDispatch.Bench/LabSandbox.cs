using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Bench;

/// <summary>One finished call of the testdispatch binary, timed from just before the spawn to its exit.</summary>
/// <remarks><see cref="CpuMs"/> is the child's user+system CPU, valid only when no other child of this process ended meanwhile.</remarks>
internal sealed record CliCall(int ExitCode, string Stdout, string Stderr, DateTimeOffset StartedAt, DateTimeOffset EndedAt, double Milliseconds, double CpuMs)
{
    /// <summary>The first line of stdout: what <c>run</c> prints, the run id.</summary>
    public string FirstLine => Stdout.Split('\n', 2)[0].Trim();
}

/// <summary>
/// A scratch lab for one benchmark: its own state dir and a config file of two local machines, driven
/// through the real, built <c>testdispatch</c> binary (with --config and --state-dir), plus an in-process
/// <see cref="Lab"/> on the same state dir to read the store (and, for the engine-only variants, to dispatch).
/// </summary>
internal sealed partial class LabSandbox
{
    public static readonly string[] Machines = ["local-1", "local-2"];

    private Lab? _view;

    /// <param name="machinesJson">The configuration's Machines list (default: local-1 and local-2).</param>
    public LabSandbox(string binary, string root, string agentIdle, string? machinesJson = null)
    {
        Binary = binary;
        Root = root;
        StateDir = Path.Combine(root, "state");
        ConfigFile = Path.Combine(root, "config.json");
        Directory.CreateDirectory(root);
        File.WriteAllText(ConfigFile,
            $$$"""{"TestDispatch":{"Defaults":{"AgentIdle":"{{{agentIdle}}}"},"Machines":{{{machinesJson ?? """[{"Name":"local-1","Transport":"local","Tags":["local"]},{"Name":"local-2","Transport":"local","Tags":["local"]}]"""}}}}}""");
    }

    public string Binary { get; }

    public string Root { get; }

    public string StateDir { get; }

    public string ConfigFile { get; }

    public StatePaths Paths => new(StateDir);

    /// <summary>An in-process lab on this state dir, opened once: the benchmark's view of the store.</summary>
    public Lab View => _view ??= OpenLab();

    /// <summary>
    /// A new in-process lab on this state dir, configured as the CLI is (the embedded default beside the
    /// binary, then the config file), whose launcher starts the same binary's agent when work is pending.
    /// </summary>
    public Lab OpenLab() => Lab.Open(
        LabConfigLoader.Load(new ConfigSources
        {
            DefaultFile = Path.Combine(Path.GetDirectoryName(Binary)!, "appsettings.json"),
            ExplicitFile = ConfigFile,
            StateDirOverride = StateDir,
        }),
        [Binary], ["--config", ConfigFile]);

    /// <summary>testdispatch --config … --state-dir … <paramref name="args"/>, as a CliWrap command (no validation).</summary>
    public Command Command(IReadOnlyList<string> args) =>
        Cli.Wrap(Binary).WithArguments(["--config", ConfigFile, "--state-dir", StateDir, .. args]).WithValidation(CommandResultValidation.None);

    public Task<CliCall> CallAsync(params string[] args) => TimeAsync(Command(args));

    /// <summary>Runs <paramref name="command"/> to its end, buffering its output, timed.</summary>
    public static async Task<CliCall> TimeAsync(Command command)
    {
        double cpu = CpuTime.ChildrenMs();
        DateTimeOffset startedAt = DateTimeOffset.UtcNow;
        long start = Stopwatch.GetTimestamp();
        BufferedCommandResult result = await command.WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        DateTimeOffset endedAt = DateTimeOffset.UtcNow;
        return new CliCall(result.ExitCode, result.StandardOutput, result.StandardError, startedAt, endedAt, ms, CpuTime.ChildrenMs() - cpu);
    }

    /// <summary>The pids of every agent that has started on this state dir, from agent.log.</summary>
    public IReadOnlyList<int> AgentPids()
    {
        string log = Paths.AgentLog;
        if (!File.Exists(log))
        {
            return [];
        }
        using FileStream stream = new(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using StreamReader reader = new(stream);
        string text = reader.ReadToEnd();
        return [.. AgentStarted().Matches(text).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct()];
    }

    /// <summary>The live agent's pid, or null when none is running.</summary>
    public int? LiveAgentPid() => AgentPids().Where(IsOurAgent).Cast<int?>().LastOrDefault();

    /// <summary>True once agent.lock is free, i.e. no agent runs on this state dir (polls, up to <paramref name="timeout"/>).</summary>
    public async Task<bool> WaitAgentGoneAsync(TimeSpan timeout)
    {
        FlockFileLocks locks = new();
        long start = Stopwatch.GetTimestamp();
        Directory.CreateDirectory(StateDir);
        while (true)
        {
            using (IDisposable? held = locks.TryAcquire(Paths.AgentLock))
            {
                if (held is not null)
                {
                    return true;
                }
            }
            if (Stopwatch.GetElapsedTime(start) > timeout)
            {
                return false;
            }
            await Task.Delay(10);
        }
    }

    /// <summary>
    /// Stops the agents this sandbox started (SIGTERM to each pid agent.log names, if that pid is still a
    /// testdispatch agent on this state dir), then waits for agent.lock to be free.
    /// </summary>
    public async Task StopAgentsAsync()
    {
        foreach (int pid in AgentPids().Where(IsOurAgent))
        {
            _ = Libc.Kill(pid, Libc.SIGTERM);
        }
        if (!await WaitAgentGoneAsync(TimeSpan.FromSeconds(10)))
        {
            Console.Error.WriteLine($"[bench] warning: an agent still holds {Paths.AgentLock} 10 s after SIGTERM");
        }
    }

    private bool IsOurAgent(int pid)
    {
        try
        {
            string[] argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return argv.Contains("agent") && argv.Contains(StateDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"agent (\d+) started on")]
    private static partial Regex AgentStarted();
}

/// <summary>VmRSS and VmHWM (peak resident set) of a process, from /proc/&lt;pid&gt;/status, in KiB.</summary>
internal readonly record struct ProcMemory(long RssKiB, long HwmKiB)
{
    public static ProcMemory? Read(int pid)
    {
        try
        {
            long rss = -1, hwm = -1;
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = KiB(line);
                }
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    hwm = KiB(line);
                }
            }
            // A zombie (exited, not yet reaped) has no memory lines left.
            return rss < 0 || hwm < 0 ? null : new ProcMemory(rss, hwm);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static long KiB(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}

/// <summary>A write-only sink that only counts the bytes written to it (thread-safe count).</summary>
internal sealed class CountingStream : Stream
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => Count;

    public override long Position
    {
        get => Count;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Interlocked.Add(ref _count, count);

    public override void Write(ReadOnlySpan<byte> buffer) => Interlocked.Add(ref _count, buffer.Length);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Add(ref _count, buffer.Length);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _count, count);
        return Task.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>CPU time (user + system) from getrusage(2) and /proc, in milliseconds.</summary>
internal static class CpuTime
{
    private const int RusageSelf = 0;
    private const int RusageChildren = -1;

    /// <summary>
    /// CPU used by every child (and their descendants) this process has waited for: the delta around one
    /// call is that child's CPU, as long as no other child ends in between.
    /// </summary>
    public static double ChildrenMs() => Get(RusageChildren);

    /// <summary>CPU used by this process so far.</summary>
    public static double SelfMs() => Get(RusageSelf);

    /// <summary>utime + stime of a live process from /proc/&lt;pid&gt;/stat, or null if it is gone.</summary>
    public static double? ProcessMs(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after "(comm)": state is field 3, utime 14 and stime 15 (USER_HZ = 100 ticks/s on Linux).
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static double Get(int who)
    {
        if (GetRusage(who, out RUsage usage) != 0)
        {
            return double.NaN;
        }
        return (usage.UserSeconds + usage.SystemSeconds) * 1000.0 + (usage.UserMicroseconds + usage.SystemMicroseconds) / 1000.0;
    }

    // DllImport rather than LibraryImport: the generated marshalling of an out struct would need unsafe code.
    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetRusage(int who, out RUsage usage);

    /// <summary>struct rusage on 64-bit Linux: two timevals, then 14 longs we do not read.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 144)]
    private struct RUsage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
    }
}
