using CliWrap;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Starts the agent detached, under its keeper (Execution/AgentKeeper.sh, written into the state dir as keeper.sh):
/// <c>setsid -f</c> puts the keeper in a new session, so closing the terminal or losing the SSH session never reaches it;
/// the keeper runs <c>testdispatch agent</c> and starts it again if it dies with work left; the agent moves its own stdio
/// to agent.log. agent.lock stays the arbiter: a second agent started beside a live one leaves at once, and so does its
/// keeper.
/// </summary>
public sealed class AgentLauncher(IReadOnlyList<string> testdispatch, IReadOnlyList<string> agentArguments)
{
    /// <summary>The keeper's name in the state dir.</summary>
    public const string KeeperFile = "keeper.sh";

    /// <summary>Set by the keeper for the agent it runs: its pid.</summary>
    public const string KeeperVariable = "TESTDISPATCH_KEEPER";

    private static readonly string Keeper = Load();

    /// <param name="successor">An agent that takes over from one still letting go (its keeper died): it waits for agent.lock.</param>
    /// <exception cref="DispatchException">spawn_failed: setsid (or this program) cannot be started.</exception>
    public async Task StartAsync(string stateDir, bool successor = false, CancellationToken cancellationToken = default)
    {
        string keeper = Path.Combine(stateDir, KeeperFile);
        try
        {
            WriteKeeper(keeper);
            await Cli.Wrap("setsid")
                .WithArguments(["-f", "sh", keeper, stateDir, .. testdispatch, "agent", "--background", "--state-dir", stateDir, .. agentArguments,
                    .. successor ? (string[])["--successor"] : []])
                .WithStandardInputPipe(PipeSource.Null)
                .WithStandardOutputPipe(PipeTarget.Null)
                .WithStandardErrorPipe(PipeTarget.Null)
                .WithValidation(CommandResultValidation.None)
                .ExecuteAsync(cancellationToken);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new DispatchException(ErrorCodes.SpawnFailed,
                $"cannot start the agent: 'setsid' could not be run ({e.Message}); install util-linux (Debian: apt-get install util-linux)", inner: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw DispatchException.From(e);
        }
    }

    /// <summary>
    /// Replaces the agent serving <paramref name="stateDir"/> by one started with this launcher's configuration: its keeper
    /// (else the agent itself, started by hand) gets SIGTERM, so the agent stops and leaves its runs going, and a successor
    /// started here waits for agent.lock and takes them over. The pids come from agent.pid and are signalled only while
    /// their command lines still name this state dir's keeper or agent (a pid reused since is left alone).
    /// </summary>
    public async Task HandOverAsync(string stateDir, CancellationToken cancellationToken = default)
    {
        string[] fields;
        try
        {
            fields = File.ReadAllText(Path.Combine(stateDir, "agent.pid")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        if (fields.Length != 2 || !int.TryParse(fields[0], out int agent) || !int.TryParse(fields[1], out int keeper))
        {
            return;
        }
        int target = keeper > 0 && CommandLine(keeper).Contains(Path.Combine(stateDir, KeeperFile), StringComparison.Ordinal) ? keeper
            : CommandLine(agent) is var line && line.Contains("agent", StringComparison.Ordinal) && line.Contains(stateDir, StringComparison.Ordinal) ? agent
            : 0;
        if (target > 0 && Libc.Kill(target, Libc.SIGTERM) == 0)
        {
            await StartAsync(stateDir, successor: true, cancellationToken);
        }
    }

    /// <summary>
    /// Writes keeper.sh unless it already holds this build's keeper. Replaced whole (temp, rename): a keeper running the old
    /// one reads on from its own copy. The temp file is the caller's own, as two clients may start an agent at once.
    /// </summary>
    internal static void WriteKeeper(string keeper)
    {
        if (File.Exists(keeper) && File.ReadAllText(keeper) == Keeper)
        {
            return;
        }
        string temp = $"{keeper}.{Environment.ProcessId}-{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temp, Keeper);
        File.SetUnixFileMode(temp, FileModes.PrivateFile);
        File.Move(temp, keeper, overwrite: true);
    }

    /// <summary>A process's command line, its arguments joined by spaces; empty when it is gone.</summary>
    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string Load()
    {
        using Stream stream = typeof(AgentLauncher).Assembly.GetManifestResourceStream("AgentKeeper.sh")
            ?? throw new InvalidOperationException("the agent's keeper is missing from the engine assembly (embedded resource AgentKeeper.sh)");
        using StreamReader reader = new(stream);
        return reader.ReadToEnd();
    }
}
