using System.Security.Cryptography;
using System.Text;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>A call to a machine that did not get an answer: unreachable (ssh's 255, with its message), or a script that failed there.</summary>
public sealed class SshException(string message, bool unreachable) : IOException(message)
{
    /// <summary>The machine could not be reached at all (connection refused or timed out, no route, host key or login refused).</summary>
    public bool Unreachable { get; } = unreachable;
}

/// <summary>
/// The agent's connection to one ssh machine (docs/SSH.md §4): one master per machine, started with <c>-fNM</c>, checked with
/// <c>-O check</c> before use once it has failed and while a call waits on it, started again when dead, and ended and
/// started again when it does not answer (SIGSTOPped); every session goes through it with
/// <c>ControlMaster=no</c>, at most <see cref="MaxSessions"/> at once (below sshd's default MaxSessions of 10, past which
/// ssh silently falls back to full logins).
/// </summary>
internal sealed class SshConnection(Machine machine, SshEndpoint endpoint, TimeSpan persist, TimedLog log) : IAsyncDisposable
{
    public const int MaxSessions = 8;

    private static readonly TimeSpan MasterTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How often a session that has not ended checks that its master answers (a stopped master stalls it silently).</summary>
    private static readonly TimeSpan StallCheck = TimeSpan.FromSeconds(5);

    /// <summary>How long <c>-O check</c> may take: a local call, so a master that says nothing in this time is stopped or hung.</summary>
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _sessions = new(MaxSessions, MaxSessions);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _up;
    private volatile int _masterPid;
    private volatile int _generation;

    private enum MasterState { Answers, Gone, Stalled }

    public Machine Machine => machine;

    public SshEndpoint Endpoint => endpoint;

    /// <summary>Raised on every answer (true) and every failure to reach the machine (false, with why).</summary>
    public event Action<bool, string?>? Contact;

    /// <summary>Makes sure the master runs: <c>-O check</c>, else (a dead master leaves its socket) a new one.</summary>
    public async Task EnsureMasterAsync(CancellationToken cancellationToken)
    {
        if (_up)
        {
            return;
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_up)
            {
                return;
            }
            MasterState state = await CheckAsync(cancellationToken);
            if (state == MasterState.Answers)
            {
                _up = true;
                return;
            }
            if (state == MasterState.Stalled)
            {
                EndStalledMaster();
            }
            string socket = endpoint.ControlPath;
            string dir = Path.GetDirectoryName(socket)!;
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.Delete(socket); // a dead master's socket would make every session try it first
            using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(MasterTimeout);
            BufferedCommandResult started;
            try
            {
                started = await Cli.Wrap("ssh").WithArguments(endpoint.Master(persist))
                    .WithStandardInputPipe(PipeSource.Null)
                    .WithValidation(CommandResultValidation.None)
                    .ExecuteBufferedAsync(Encoding.UTF8, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw Unreachable($"no answer within {MasterTimeout.TotalSeconds:0}s");
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new SshException($"cannot run ssh (the OpenSSH client) on this host: {e.Message}; install openssh-client", unreachable: true);
            }
            if (started.ExitCode != 0)
            {
                throw Unreachable(LastLine(started.StandardError) ?? $"ssh exited with {started.ExitCode}");
            }
            if (await CheckAsync(cancellationToken) != MasterState.Answers)
            {
                throw Unreachable("the master connection started but does not answer on its socket " + socket);
            }
            _generation++;
            _up = true;
            log.Write($"machine {machine.Name}: connected to {machine.Location} (master {socket})");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Checks the master now (started again if it died): a look at its socket, or a new login when it is gone.</summary>
    public async Task ProbeAsync(CancellationToken cancellationToken)
    {
        _up = false;
        await EnsureMasterAsync(cancellationToken);
        Contact?.Invoke(true, null);
    }

    /// <summary>Runs one of <see cref="RemoteScripts"/> (made with <paramref name="script"/> from a fresh nonce) and returns its answer.</summary>
    public async Task<RemoteReply> RunAsync(string what, Func<string, string> script, TimeSpan most, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            string nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            await EnsureMasterAsync(cancellationToken);
            await _sessions.WaitAsync(cancellationToken);
            try
            {
                using MemoryStream output = new();
                StringBuilder error = new();
                Command session = Cli.Wrap("ssh").WithArguments(endpoint.Session())
                    .WithStandardInputPipe(PipeSource.FromString(script(nonce)))
                    .WithStandardOutputPipe(PipeTarget.ToStream(output))
                    .WithStandardErrorPipe(PipeTarget.ToStringBuilder(error));
                if (await WatchedAsync(session, what, most, cancellationToken) is not { } result)
                {
                    if (attempt == 0 && output.ToArray().AsSpan().IndexOf(BeginMarker(nonce)) < 0)
                    {
                        continue; // its master was stopped before the script began: the script runs on the new master
                    }
                    throw Unreachable($"its master connection stopped answering while trying to {what}");
                }
                string stderr = error.ToString();
                NoteSessionFailure(result.ExitCode, stderr);
                if (RemoteReply.Parse(output.ToArray(), nonce) is not { } reply)
                {
                    throw result.ExitCode == 255
                        ? Unreachable(LastLine(stderr) ?? "the connection failed")
                        : new SshException($"could not {what} on {machine.Name}: the remote shell ended early (exit {result.ExitCode}){Said(stderr)}", unreachable: false);
                }
                Contact?.Invoke(true, null);
                if (reply.Status != 0)
                {
                    throw new SshException($"could not {what} on {machine.Name} (status {reply.Status}){Said(stderr)}", unreachable: false);
                }
                return reply;
            }
            finally
            {
                _sessions.Release();
            }
        }
    }

    /// <summary>
    /// Runs a script that streams raw bytes between its markers: <paramref name="send"/> writes what the script reads on stdin
    /// (sent only once the begin marker says the shell has read the whole script), <paramref name="receive"/> reads what it
    /// writes, straight from ssh's stdout. Neither side holds more than a buffer; the end marker's status is checked as
    /// <see cref="RunAsync"/> does.
    /// </summary>
    public async Task StreamAsync(string what, Func<string, string> script, Func<Stream, CancellationToken, Task>? send,
        Func<Stream, CancellationToken, Task>? receive, TimeSpan most, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            string nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            await EnsureMasterAsync(cancellationToken);
            await _sessions.WaitAsync(cancellationToken);
            try
            {
                TaskCompletionSource<bool> begun = new(TaskCreationOptions.RunContinuationsAsynchronously);
                Exception? failed = null;
                byte[] tail = [];
                StringBuilder error = new();
                Command session = Cli.Wrap("ssh").WithArguments(endpoint.Session())
                    .WithStandardInputPipe(PipeSource.Create(async (stdin, token) =>
                    {
                        await stdin.WriteAsync(Encoding.UTF8.GetBytes(script(nonce)), token);
                        await stdin.FlushAsync(token);
                        if (send is not null && await begun.Task)
                        {
                            await send(stdin, token);
                        }
                    }))
                    .WithStandardOutputPipe(PipeTarget.Create(async (stdout, token) =>
                    {
                        using BufferedStream buffered = new(stdout, 1 << 16);
                        try
                        {
                            if (!await SkipPastAsync(buffered, BeginMarker(nonce), token))
                            {
                                return;
                            }
                            begun.TrySetResult(true);
                            if (receive is not null)
                            {
                                try
                                {
                                    await receive(buffered, token);
                                }
                                catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or FormatException)
                                {
                                    failed = e; // the end marker says whether the machine failed first; read on to it
                                }
                            }
                            tail = await LastBytesAsync(buffered, 4096, token);
                        }
                        finally
                        {
                            begun.TrySetResult(false);
                        }
                    }))
                    .WithStandardErrorPipe(PipeTarget.ToStringBuilder(error));
                if (await WatchedAsync(session, what, most, cancellationToken) is not { } result)
                {
                    if (attempt == 0 && begun.Task is { IsCompletedSuccessfully: true, Result: false })
                    {
                        continue; // its master was stopped before the script began: nothing was sent, so all of it goes on the new master
                    }
                    throw Unreachable($"its master connection stopped answering while trying to {what}");
                }
                string stderr = error.ToString();
                NoteSessionFailure(result.ExitCode, stderr);
                if (RemoteReply.EndStatus(tail, nonce) is not { } status)
                {
                    throw result.ExitCode == 255
                        ? Unreachable(LastLine(stderr) ?? "the connection failed")
                        : new SshException($"could not {what} on {machine.Name}: the remote shell ended early (exit {result.ExitCode}){Said(stderr)}", unreachable: false);
                }
                Contact?.Invoke(true, null);
                if (status != 0)
                {
                    throw new SshException($"could not {what} on {machine.Name} (status {status}){Said(stderr)}", unreachable: false);
                }
                if (failed is not null)
                {
                    throw new SshException($"could not {what} on {machine.Name}: {failed.Message}", unreachable: false);
                }
                return;
            }
            finally
            {
                _sessions.Release();
            }
        }
    }

    /// <summary>
    /// Runs a session for at most <paramref name="most"/>, checking its master every <see cref="StallCheck"/> while it runs: a
    /// master that does not answer (SIGSTOPped, hung) is ended, so this and every other session on it stop waiting on it, and
    /// the next call starts a new one. Null when this session was ended so.
    /// </summary>
    private async Task<CommandResult?> WatchedAsync(Command session, string what, TimeSpan most, CancellationToken cancellationToken)
    {
        int generation = _generation;
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(most);
        using CancellationTokenSource ended = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        Task<CommandResult> running = session.WithValidation(CommandResultValidation.None).ExecuteAsync(ended.Token);
        bool stalled = false;
        try
        {
            while (!running.IsCompleted && !stalled && !deadline.IsCancellationRequested)
            {
                await Task.WhenAny(running, Task.Delay(StallCheck, deadline.Token));
                if (!running.IsCompleted && !deadline.IsCancellationRequested && await CheckAsync(deadline.Token) == MasterState.Stalled)
                {
                    await EndStalledMasterAsync(generation, deadline.Token);
                    stalled = true;
                    await ended.CancelAsync();
                }
            }
            return await running;
        }
        catch (OperationCanceledException) when (stalled && !deadline.IsCancellationRequested)
        {
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _up = false;
            throw Unreachable($"no answer within {most.TotalSeconds:0}s while trying to {what}");
        }
    }

    /// <summary>Ends the master found not answering, unless a new one was started since this session began.</summary>
    private async Task EndStalledMasterAsync(int generation, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (generation == _generation)
            {
                EndStalledMaster();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// SIGKILLs a master that does not answer on its socket (checked to be ours by its command line) and removes the socket:
    /// a stopped master would otherwise hold every session that connects to it until its call's limit, and stay for ever.
    /// </summary>
    private void EndStalledMaster()
    {
        int pid = _masterPid;
        string cmdline;
        try
        {
            cmdline = pid > 0 ? File.ReadAllText($"/proc/{pid}/cmdline") : "";
        }
        catch (IOException)
        {
            cmdline = "";
        }
        bool ours = cmdline.Split('\0').Contains("-M") && cmdline.Contains(endpoint.ControlPath, StringComparison.Ordinal);
        if (ours)
        {
            Libc.Kill(pid, Libc.SIGKILL);
        }
        File.Delete(endpoint.ControlPath);
        _up = false;
        _generation++;
        log.Write($"machine {machine.Name}: the master connection{(ours ? $" (pid {pid})" : "")} does not answer on its socket (stopped?); " +
            $"{(ours ? "ended it" : "left it")} and starting a new one");
    }

    private static byte[] BeginMarker(string nonce) => Encoding.ASCII.GetBytes($"TD-BEGIN {nonce}\n");

    /// <summary>Reads <paramref name="input"/> up to and past <paramref name="marker"/>; false when it ended first.</summary>
    private static async Task<bool> SkipPastAsync(Stream input, byte[] marker, CancellationToken cancellationToken)
    {
        byte[] one = new byte[1];
        int matched = 0;
        while (await input.ReadAsync(one, cancellationToken) == 1)
        {
            matched = one[0] == marker[matched] ? matched + 1 : one[0] == marker[0] ? 1 : 0;
            if (matched == marker.Length)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Reads <paramref name="input"/> to its end, keeping only its last <paramref name="most"/> bytes.</summary>
    private static async Task<byte[]> LastBytesAsync(Stream input, int most, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[most * 2];
        int kept = 0;
        while (await input.ReadAsync(buffer.AsMemory(kept), cancellationToken) is var read and > 0)
        {
            kept += read;
            if (kept == buffer.Length)
            {
                Array.Copy(buffer, most, buffer, 0, most);
                kept = most;
            }
        }
        return buffer[..kept];
    }

    /// <summary>A session that failed as a whole (ssh's 255, or its master gone): the next call checks the master first.</summary>
    private void NoteSessionFailure(int exitCode, string stderr)
    {
        if (exitCode == 255 || stderr.Contains("Control socket connect", StringComparison.Ordinal) ||
            stderr.Contains("disabling multiplexing", StringComparison.Ordinal))
        {
            _up = false; // the next call checks the master, and starts a new one if it died
        }
    }

    /// <summary>Runs rsync through the master; returns its exit code and what it said.</summary>
    public async Task<(int Exit, string Error)> RsyncAsync(IReadOnlyList<string> arguments, TimeSpan most, CancellationToken cancellationToken)
    {
        await EnsureMasterAsync(cancellationToken);
        await _sessions.WaitAsync(cancellationToken);
        try
        {
            using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(most);
            BufferedCommandResult result = await Cli.Wrap("rsync").WithArguments(["-e", endpoint.RsyncShell(), .. arguments])
                .WithStandardInputPipe(PipeSource.Null)
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(Encoding.UTF8, deadline.Token);
            if (result.ExitCode is 12 or 255 || result.StandardError.Contains("Control socket connect", StringComparison.Ordinal))
            {
                _up = false;
            }
            return (result.ExitCode, result.StandardError.Trim());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (-1, $"rsync did not finish within {most.TotalMinutes:0} minutes");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (127, $"cannot run rsync on this host: {e.Message}");
        }
        finally
        {
            _sessions.Release();
        }
    }

    /// <summary>
    /// Whether the master answers on its socket (a local call: no round trip to the machine), is gone, or is stalled: its
    /// socket takes the connection but nothing answers (SIGSTOPped). Notes the pid it gives.
    /// </summary>
    private async Task<MasterState> CheckAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(endpoint.ControlPath))
        {
            return MasterState.Gone;
        }
        try
        {
            using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(CheckTimeout);
            BufferedCommandResult check = await Cli.Wrap("ssh").WithArguments(endpoint.Control("check"))
                .WithStandardInputPipe(PipeSource.Null)
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(Encoding.UTF8, deadline.Token);
            if (check.ExitCode != 0)
            {
                return MasterState.Gone;
            }
            // "Master running (pid=N)"
            string said = check.StandardError;
            int at = said.IndexOf("(pid=", StringComparison.Ordinal);
            int end = at < 0 ? -1 : said.IndexOf(')', at);
            if (end > 0 && int.TryParse(said.AsSpan(at + 5, end - at - 5), out int pid))
            {
                _masterPid = pid;
            }
            return MasterState.Answers;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return MasterState.Stalled;
        }
    }

    /// <summary>Ends the master (<c>-O exit</c>) when the agent leaves.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!File.Exists(endpoint.ControlPath))
        {
            return;
        }
        try
        {
            using CancellationTokenSource deadline = new(TimeSpan.FromSeconds(5));
            await Cli.Wrap("ssh").WithArguments(endpoint.Control("exit"))
                .WithStandardInputPipe(PipeSource.Null)
                .WithValidation(CommandResultValidation.None)
                .ExecuteAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private SshException Unreachable(string why)
    {
        _up = false;
        string message = $"cannot reach {machine.Name} ({machine.Location}) over ssh: {why}";
        Contact?.Invoke(false, message);
        return new SshException(message, unreachable: true);
    }

    private static string? LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();

    /// <summary>The last few lines the remote side said on stderr (a failing command's reason comes before its summary).</summary>
    private static string Said(string stderr) =>
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [_, ..] lines ? ": " + string.Join("; ", lines.TakeLast(3)) : "";
}
