using System.Net;
using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;

namespace TestDispatch.Tests.Support;

/// <summary>
/// A real OpenSSH server on 127.0.0.1 for one test (docs/SSH.md): a free port, throwaway host and user keys, its own
/// known_hosts, and a log of every login. The "remote" machine is this host, reached only through sshd: what a lab
/// machine's sshd would do to a session (its login shell, its environment, dropped connections) happens here for real.
/// </summary>
public sealed class SshServer : IDisposable
{
    public const string Sshd = "/usr/sbin/sshd";

    private readonly TempDir _dir = new("td-sshd-");
    private int _pid;

    /// <param name="user">Log in as this user (created with <paramref name="shell"/> as login shell if missing; needs root); else as ourselves.</param>
    /// <param name="path">PATH for sessions (sshd's SetEnv): leave rsync out of it to play a machine without rsync.</param>
    public SshServer(string? user = null, string? shell = null, string? path = null)
    {
        Dir = _dir.Path;
        File.SetUnixFileMode(Dir, (UnixFileMode)0b111_101_101); // another login user must reach its work root inside
        User = user ?? Environment.UserName;
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Combine("host_key"));
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Combine("user_key"));
        File.Copy(Combine("user_key.pub"), Combine("authorized_keys"));
        WorkRoot = Combine("remote");
        Directory.CreateDirectory(WorkRoot);
        if (user is not null)
        {
            if (Run("id", user) != 0)
            {
                Run("useradd", "-M", "-d", "/nonexistent", "-p", "*", "-s", shell ?? "/bin/sh", user); // "*": no password, yet not locked (sshd refuses locked accounts)
            }
            else
            {
                Run("usermod", "-p", "*", "-s", shell ?? "/bin/sh", user);
            }
            Run("chown", user, WorkRoot);
        }
        Directory.CreateDirectory("/run/sshd"); // privilege separation dir, which sshd run as root requires
        // A free port can be taken by someone else before sshd binds it: try another.
        for (int attempt = 1; ; attempt++)
        {
            Port = FreePort();
            File.WriteAllText(Combine("sshd_config"), $"""
                Port {Port}
                ListenAddress 127.0.0.1
                HostKey {Combine("host_key")}
                PidFile {Combine("sshd.pid")}
                AuthorizedKeysFile {Combine("authorized_keys")}
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password
                LogLevel VERBOSE
                {(path is null ? "" : $"SetEnv PATH={path}")}
                """);
            File.WriteAllText(KnownHosts, $"[127.0.0.1]:{Port} {File.ReadAllText(Combine("host_key.pub")).Trim()}\n");
            if (Run(Sshd, "-f", Combine("sshd_config"), "-E", LogFile) != 0)
            {
                if (attempt < 5)
                {
                    continue;
                }
                throw new InvalidOperationException($"sshd did not start: {File.ReadAllText(LogFile)}");
            }
            break;
        }
        _pid = Eventually.Get(() => File.Exists(Combine("sshd.pid")) && File.ReadAllText(Combine("sshd.pid")) is [.., '\n'] whole ? whole.Trim() : null,
            what: "sshd's pid file").GetAwaiter().GetResult() is { } pid ? int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Whether this host can run the tests that need a real sshd.</summary>
    public static bool Available => File.Exists(Sshd) && File.Exists("/usr/bin/ssh") && File.Exists("/usr/bin/rsync");

    public static bool IsRoot => Environment.UserName == "root";

    public string Dir { get; }

    public int Port { get; }

    public string User { get; }

    /// <summary>The machine's work root (inside this server's dir).</summary>
    public string WorkRoot { get; }

    public string KnownHosts => Combine("known_hosts");

    public string LogFile => Combine("sshd.log");

    /// <summary>The pid of the listening sshd; its children are the sessions.</summary>
    public int Pid => _pid;

    public string Combine(params string[] parts) => _dir.Combine(parts);

    /// <summary>A machine definition for the configuration's Machines list, with extra JSON members (e.g. "\"KeepWorkDir\": true").</summary>
    public string Machine(string name, string tags = "\"ssh\"", string extraOptions = "", string extra = "", int? port = null) => $$"""
        { "Name": "{{name}}", "Transport": "ssh", "Host": "127.0.0.1", "Port": {{port ?? Port}}, "User": "{{User}}",
          "IdentityFile": "{{Combine("user_key")}}", "WorkRoot": "{{WorkRoot}}", "Tags": [{{tags}}],
          "SshOptions": ["-F", "/dev/null", "-o", "UserKnownHostsFile={{KnownHosts}}", "-o", "StrictHostKeyChecking=yes"{{extraOptions}}]{{extra}} }
        """;

    /// <summary>How many times someone logged in (a session over an existing master is not a login).</summary>
    public int Logins() => File.ReadLines(LogFile).Count(l => l.Contains("Accepted publickey", StringComparison.Ordinal));

    /// <summary>The server's session processes (children of the listener): one pair per connection.</summary>
    public IReadOnlyList<int> Sessions() => [.. Directory.EnumerateDirectories("/proc")
        .Select(d => int.TryParse(Path.GetFileName(d), out int pid) ? pid : 0)
        .Where(pid => pid > 0 && ParentOf(pid) is { } parent && (parent == _pid || (ParentOf(parent) == _pid)))];

    /// <summary>What is left in the work root (run directories not cleaned up).</summary>
    public IReadOnlyList<string> Leftovers() => [.. Directory.EnumerateFileSystemEntries(WorkRoot)];

    public void Dispose()
    {
        Stop();
        _dir.Dispose();
    }

    /// <summary>Starts the server again, on the same port and keys, after <see cref="Stop"/>: the machine answers again.</summary>
    public void Restart()
    {
        File.Delete(Combine("sshd.pid"));
        if (Run(Sshd, "-f", Combine("sshd_config"), "-E", LogFile) != 0)
        {
            throw new InvalidOperationException($"sshd did not start again: {File.ReadAllText(LogFile)}");
        }
        _pid = int.Parse(Eventually.Get(() => File.Exists(Combine("sshd.pid")) && File.ReadAllText(Combine("sshd.pid")) is [.., '\n'] whole ? whole.Trim() : null,
            what: "sshd's pid file").GetAwaiter().GetResult(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Kills the server and its sessions: from now on the machine refuses connections. Only while the pid is still this
    /// server's (its command line names this server's config): a server that died by itself left its pid to whatever the host
    /// started next, which, and whose children, would be killed instead (another test's agent or CLI, SIGKILLed from nowhere).
    /// </summary>
    public void Stop()
    {
        if (_pid > 0 && !Processes.CommandLine(_pid).Contains(Combine("sshd_config"), StringComparison.Ordinal))
        {
            _pid = 0;
        }
        if (_pid > 0)
        {
            foreach (int session in Sessions())
            {
                Kill(session, "-CONT");
                Kill(session, "-KILL");
            }
            Kill(_pid, "-KILL");
            _pid = 0;
        }
    }

    public static void Kill(int pid, string signal) => Run("kill", signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static int? ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static int FreePort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int Run(string program, params string[] args) =>
        Cli.Wrap(program).WithArguments(args).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult().ExitCode;
}
