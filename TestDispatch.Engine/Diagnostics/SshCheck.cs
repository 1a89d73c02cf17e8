using System.Security.Cryptography;
using System.Text;
using CliWrap;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Transports.Ssh;

namespace TestDispatch.Engine.Diagnostics;

/// <summary>
/// <c>doctor</c>'s look at one ssh machine, one finding per step, each with the fix for its problem: the master socket's
/// path, connecting and logging in, the remote <c>/bin/sh</c>, the programs the transport uses there, and the work root.
/// One session, through the agent's master when it is up (else one login).
/// </summary>
public static class SshCheck
{
    private const string Probe = """
        command -v setsid >/dev/null 2>&1 && printf 'C setsid\n'
        command -v flock >/dev/null 2>&1 && printf 'C flock\n'
        command -v mkfifo >/dev/null 2>&1 && command -v tail >/dev/null 2>&1 && command -v wc >/dev/null 2>&1 && printf 'C loglimit\n'
        command -v rsync >/dev/null 2>&1 && printf 'C rsync\n'
        command -v tar >/dev/null 2>&1 && command -v base64 >/dev/null 2>&1 && printf 'C tar\n'
        td_root=ROOT
        case $td_root in "~/"*) td_root=$HOME/${td_root#"~/"} ;; esac
        printf 'D %s\n' "$td_root"
        if mkdir -p "$td_root" 2>/dev/null && td_t=$(mktemp "$td_root/.doctor.XXXXXX" 2>/dev/null); then rm -f "$td_t"; printf 'W 1\n'; else printf 'W 0\n'; fi
        """;

    public static async Task<IReadOnlyList<Finding>> RunAsync(Machine machine, string stateRoot, CancellationToken cancellationToken = default)
    {
        List<Finding> findings = [];
        string subject = machine.Name;
        SshEndpoint endpoint = new(machine, stateRoot);
        int length = Encoding.UTF8.GetByteCount(endpoint.ControlPath);
        findings.Add(new Finding(Health.Ok, subject, $"control socket {endpoint.ControlPath} ({length} bytes of at most {SshEndpoint.MaxControlPath})"));

        string nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        RemoteReply reply;
        string script = $"printf 'TD-BEGIN %s\\n' {nonce}\n{Probe.Replace("ROOT", PosixShell.Quote(machine.WorkRoot), StringComparison.Ordinal)}\nprintf '\\nTD-END %s 0\\n' {nonce}\n";
        // A session through the agent's master is cut when that master ends under it (an agent going idle ends its master with
        // -O exit): ssh exits 255 with no reason of its own. So a 255 is tried once more: with the master gone, a login.
        for (int attempt = 1; ; attempt++)
        {
            using MemoryStream output = new();
            StringBuilder error = new();
            CommandResult result;
            try
            {
                using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(TimeSpan.FromSeconds(30));
                result = await Cli.Wrap("ssh").WithArguments(endpoint.Session())
                    .WithStandardInputPipe(PipeSource.FromString(script))
                    .WithStandardOutputPipe(PipeTarget.ToStream(output))
                    .WithStandardErrorPipe(PipeTarget.ToStringBuilder(error))
                    .WithValidation(CommandResultValidation.None)
                    .ExecuteAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                findings.Add(new Finding(Health.Failure, subject, $"connect: no answer from {machine.Location} within 30s; check the host, port and network"));
                return findings;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                findings.Add(new Finding(Health.Failure, subject, "connect: ssh (the OpenSSH client) is not installed here; apt-get install openssh-client"));
                return findings;
            }
            string said = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
            if (RemoteReply.Parse(output.ToArray(), nonce) is { } parsed)
            {
                reply = parsed;
                break;
            }
            if (result.ExitCode == 255 && attempt == 1)
            {
                continue;
            }
            findings.Add(result.ExitCode == 255
                ? new Finding(Health.Failure, subject, $"connect: {machine.Location}: {said}; {FixFor(said, machine)}")
                : new Finding(Health.Failure, subject, $"remote sh: logged in, but 'exec /bin/sh -s' did not run the check (exit {result.ExitCode}{(said.Length > 0 ? ": " + said : "")}); " +
                    "the machine needs a POSIX /bin/sh, and no ForceCommand for this user"));
            return findings;
        }
        findings.Add(new Finding(Health.Ok, subject, $"connect and log in: {machine.Location}, remote /bin/sh answers"));
        HashSet<string> programs = [.. reply.Values('C')];
        findings.Add(programs.Contains("setsid")
            ? new Finding(Health.Ok, subject, "setsid: present (the run wrapper starts tests with it)")
            : new Finding(Health.Failure, subject, "setsid: missing on the machine; install util-linux there"));
        findings.Add(programs.Contains("flock")
            ? new Finding(Health.Ok, subject, "flock: present (each run locks the machine with it, against other engineers' runs)")
            : new Finding(Health.Failure, subject, "flock: missing on the machine, so runs there would not be protected from other engineers' runs and are " +
                "refused (machine_lock_unavailable); install util-linux there"));
        findings.Add(programs.Contains("loglimit")
            ? new Finding(Health.Ok, subject, "log limit: mkfifo, tail and wc present (the run wrapper bounds each run's log with them)")
            : new Finding(Health.Warning, subject, "log limit: mkfifo, tail or wc missing on the machine: runs' logs there are not bounded; install coreutils there"));
        findings.Add(programs.Contains("rsync") ? new Finding(Health.Ok, subject, "copy: rsync")
            : programs.Contains("tar") ? new Finding(Health.Warning, subject, "copy: no rsync, so test dirs and artifacts go by tar over ssh (whole each time); install rsync there")
            : new Finding(Health.Failure, subject, "copy: neither rsync nor tar and base64 on the machine; install rsync there"));
        findings.Add(reply.Value('W') == "1"
            ? new Finding(Health.Ok, subject, $"work root: {reply.Value('D')} is writable")
            : new Finding(Health.Failure, subject, $"work root: cannot write in {reply.Value('D')}; create it for {machine.User ?? "the login user"} or set another WorkRoot"));
        return findings;
    }

    private static string FixFor(string said, Machine machine) =>
        said.Contains("Permission denied", StringComparison.Ordinal)
            ? $"add your public key to ~/.ssh/authorized_keys of {machine.User ?? "the user"} there (ssh-copy-id), or set IdentityFile"
        : said.Contains("Host key verification failed", StringComparison.Ordinal) || said.Contains("REMOTE HOST IDENTIFICATION", StringComparison.Ordinal)
            ? "its host key is unknown or changed: check it, then add it to known_hosts (ssh once by hand)"
        : said.Contains("Connection refused", StringComparison.Ordinal) ? "is sshd running there, on that Port?"
        : said.Contains("Could not resolve", StringComparison.Ordinal) ? "check the Host name"
        : "check the host, port and network (timeouts, no route, VPN)";
}
