using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;

namespace TestDispatch.Chaos;

/// <summary>
/// A real OpenSSH server on 127.0.0.1 for the storms' ssh machines (as the tests' SshServer, trimmed): throwaway host and
/// user keys, its own known_hosts, logins as ourselves. Its sessions are fault targets; the "remote" runs are on this host,
/// so /proc sees them too.
/// </summary>
internal sealed class LoopbackSshd : IAsyncDisposable
{
    public const string Sshd = "/usr/sbin/sshd";

    private LoopbackSshd(string dir, int port, int pid)
    {
        Dir = dir;
        Port = port;
        Pid = pid;
    }

    /// <summary>Whether this host can start one: sshd, ssh and rsync installed, and root (sshd's privilege separation needs it).</summary>
    public static bool Available => File.Exists(Sshd) && File.Exists("/usr/bin/ssh") && File.Exists("/usr/bin/rsync") && Environment.UserName == "root";

    public string Dir { get; }

    public int Port { get; }

    /// <summary>The listener; its children and their children are the sessions.</summary>
    public int Pid { get; }

    public string WorkRoot => Path.Combine(Dir, "remote");

    public static async Task<LoopbackSshd> StartAsync(string dir, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(dir);
        await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(dir, "host_key")], cancellationToken);
        await RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(dir, "user_key")], cancellationToken);
        File.Copy(Path.Combine(dir, "user_key.pub"), Path.Combine(dir, "authorized_keys"));
        Directory.CreateDirectory(Path.Combine(dir, "remote"));
        Directory.CreateDirectory("/run/sshd");
        for (int attempt = 1; ; attempt++)
        {
            int port = FreePort();
            File.WriteAllText(Path.Combine(dir, "sshd_config"), $"""
                Port {port}
                ListenAddress 127.0.0.1
                HostKey {Path.Combine(dir, "host_key")}
                PidFile {Path.Combine(dir, "sshd.pid")}
                AuthorizedKeysFile {Path.Combine(dir, "authorized_keys")}
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password
                MaxStartups 100
                """);
            File.WriteAllText(Path.Combine(dir, "known_hosts"), $"[127.0.0.1]:{port} {File.ReadAllText(Path.Combine(dir, "host_key.pub")).Trim()}\n");
            if (await RunAsync(Sshd, ["-f", Path.Combine(dir, "sshd_config"), "-E", Path.Combine(dir, "sshd.log")], cancellationToken) != 0)
            {
                if (attempt < 5)
                {
                    continue; // someone took the free port first
                }
                throw new InvalidOperationException($"sshd did not start: {File.ReadAllText(Path.Combine(dir, "sshd.log"))}");
            }
            string pidFile = Path.Combine(dir, "sshd.pid");
            for (int i = 0; i < 100 && !(File.Exists(pidFile) && File.ReadAllText(pidFile).EndsWith('\n')); i++)
            {
                await Task.Delay(50, cancellationToken);
            }
            return new LoopbackSshd(dir, port, int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture));
        }
    }

    /// <summary>A machine of the configuration's Machines list, on this server.</summary>
    public string Machine(string name) => $$"""
        { "Name": "{{name}}", "Transport": "ssh", "Host": "127.0.0.1", "Port": {{Port}}, "User": "{{Environment.UserName}}",
          "IdentityFile": "{{Path.Combine(Dir, "user_key")}}", "WorkRoot": "{{Path.Combine(WorkRoot, name)}}", "Tags": ["ssh", "any"],
          "SshOptions": ["-F", "/dev/null", "-o", "UserKnownHostsFile={{Path.Combine(Dir, "known_hosts")}}", "-o", "StrictHostKeyChecking=yes"] }
        """;

    /// <summary>The server's session processes: its children and theirs (the privileged monitor and the user's session).</summary>
    public static IEnumerable<ProcessInfo> Sessions(IReadOnlyList<ProcessInfo> processes, int listener)
    {
        HashSet<int> children = [.. processes.Where(p => p.ParentPid == listener).Select(p => p.Pid)];
        return processes.Where(p => children.Contains(p.Pid) || (children.Contains(p.ParentPid) && p.Comm.StartsWith("sshd", StringComparison.Ordinal)));
    }

    public async ValueTask DisposeAsync()
    {
        IReadOnlyList<ProcessInfo> processes = ProcTable.Read();
        // Only while the pid is still this server's: one that died by itself left its pid, and children, to a stranger.
        if (!processes.Any(p => p.Pid == Pid && p.Mentions(Path.Combine(Dir, "sshd_config"))))
        {
            return;
        }
        foreach (ProcessInfo session in Sessions(processes, Pid))
        {
            ProcTable.Signal(session.Pid, ProcTable.SIGCONT);
            ProcTable.Signal(session.Pid, ProcTable.SIGKILL);
        }
        ProcTable.Signal(Pid, ProcTable.SIGKILL);
        await Task.CompletedTask;
    }

    private static async Task<int> RunAsync(string program, IReadOnlyList<string> args, CancellationToken cancellationToken) =>
        (await Cli.Wrap(program).WithArguments(args).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(cancellationToken)).ExitCode;

    private static int FreePort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
