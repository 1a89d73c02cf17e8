using System.Security.Cryptography;
using System.Text;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// How the system OpenSSH client is told to reach one machine (docs/SSH.md §4): the argument lists for the agent's master
/// connection, for every other session (through that master, <c>ControlMaster=no</c>), and for rsync's <c>-e</c>. The
/// options that keep the transport working come first (ssh takes the first value it is given for an option), the
/// machine's <c>SshOptions</c> next, then overridable defaults (connect timeout, keep-alives).
/// </summary>
public sealed class SshEndpoint
{
    /// <summary>The most a ControlPath may be: the master binds PATH.&lt;16 random chars&gt; first, and a socket path holds 108 bytes.</summary>
    public const int MaxControlPath = 90;

    private readonly Machine _machine;
    private readonly string _controlPathOption;

    public SshEndpoint(Machine machine, string stateRoot)
    {
        _machine = machine;
        ControlPath = ControlPathFor(machine, stateRoot);
        _controlPathOption = "ControlPath=" + ControlPath.Replace("%", "%%", StringComparison.Ordinal);
        Destination = machine.Host!;
    }

    public string Destination { get; }

    /// <summary>The master's socket: <c>&lt;state&gt;/cm/&lt;16 hex&gt;</c>, or a short runtime dir when that is too long.</summary>
    public string ControlPath { get; }

    /// <summary>Starts the master: it authenticates, goes to the background and holds the connection until idle for <paramref name="persist"/>.</summary>
    public IReadOnlyList<string> Master(TimeSpan persist) =>
        ["-f", "-N", "-M", "-o", $"ControlPersist={Math.Max(1, (int)persist.TotalSeconds)}", "-o", _controlPathOption, .. Common(), Destination];

    /// <summary><c>-O check</c> or <c>-O exit</c> of the master (talks to the local socket only).</summary>
    public IReadOnlyList<string> Control(string operation) => ["-O", operation, "-o", _controlPathOption, .. Common(), Destination];

    /// <summary>A session through the master whose remote login shell runs only <see cref="PosixShell.Entry"/>: the script goes on stdin.</summary>
    public IReadOnlyList<string> Session() => [.. SessionOptions(), Destination, PosixShell.Entry];

    /// <summary>rsync's <c>-e</c>: the ssh command for a session, as one string rsync splits at spaces (quotes kept).</summary>
    public string RsyncShell() => string.Join(" ", SessionOptions().Prepend("ssh").Select(RsyncWord));

    /// <summary>A path on the machine as rsync names it: host:path (an IPv6 address in brackets).</summary>
    public string RsyncPath(string remotePath) => (Destination.Contains(':', StringComparison.Ordinal) ? $"[{Destination}]" : Destination) + ":" + remotePath;

    private IReadOnlyList<string> SessionOptions() => ["-o", "ControlMaster=no", "-o", _controlPathOption, .. Common()];

    private IEnumerable<string> Common()
    {
        List<string> args = ["-T", "-o", "BatchMode=yes", "-p", _machine.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        if (_machine.User is { Length: > 0 } user)
        {
            args.AddRange(["-l", user]);
        }
        if (_machine.IdentityFile is { Length: > 0 } identity)
        {
            args.AddRange(["-i", identity]);
        }
        args.AddRange(_machine.SshOptions);
        args.AddRange(["-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
            "-o", "ClearAllForwardings=yes", "-o", "RemoteCommand=none", "-o", "LogLevel=ERROR"]);
        return args;
    }

    /// <summary>One word of rsync's <c>-e</c>: rsync splits at spaces and honours single and double quotes, never backslashes.</summary>
    private static string RsyncWord(string word) =>
        !word.Any(c => c is ' ' or '\'' or '"') ? word
        : !word.Contains('\'', StringComparison.Ordinal) ? $"'{word}'"
        : !word.Contains('"', StringComparison.Ordinal) ? $"\"{word}\""
        : throw new InvalidOperationException($"the ssh argument {word} holds both kinds of quote, which rsync's -e cannot pass");

    /// <summary>
    /// The master's socket for a machine: named by a hash of the machine, everything that shapes the connection and the state dir (two
    /// agents, or two machines on one host, never share one), in <c>&lt;state&gt;/cm/</c> when that fits in <see cref="MaxControlPath"/> bytes, else in the
    /// user's runtime dir or <c>/tmp/testdispatch-&lt;uid&gt;/</c>.
    /// </summary>
    public static string ControlPathFor(Machine machine, string stateRoot)
    {
        // The machine's name too: each machine's connection counts its own sessions against sshd's MaxSessions and replaces a
        // master it finds dead, so two machines on one host and user must not share a socket (the chaos harness saw one
        // machine's agent delete the socket of the other's live master, and start a second master beside it).
        string key = string.Join('\n', [stateRoot, machine.Name, machine.User ?? "", machine.Host ?? "", machine.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            machine.IdentityFile ?? "", .. machine.SshOptions]);
        string name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];
        string inState = Path.Combine(stateRoot, "cm", name);
        if (Encoding.UTF8.GetByteCount(inState) <= MaxControlPath && !inState.Contains(' ', StringComparison.Ordinal))
        {
            return inState;
        }
        return Path.Combine(ShortSocketDir(), name);
    }

    /// <summary>Where sockets go when the state dir's path is too long: <c>$XDG_RUNTIME_DIR/testdispatch</c> or <c>/tmp/testdispatch-&lt;uid&gt;</c>.</summary>
    public static string ShortSocketDir() =>
        Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 and < 50 } runtime && !runtime.Contains(' ', StringComparison.Ordinal)
            ? Path.Combine(runtime, "testdispatch")
            : $"/tmp/testdispatch-{Libc.Geteuid()}";
}
