using CliWrap;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Starts <c>testdispatch agent</c> detached: setsid -f puts it in a new session, so closing the
/// terminal or losing the SSH session never reaches it; the agent moves its own stdio to agent.log.
/// </summary>
public sealed class AgentLauncher(IReadOnlyList<string> testdispatch, IReadOnlyList<string> agentArguments)
{
    /// <summary>The command that runs this program: its apphost or native binary, or <c>dotnet testdispatch.dll</c>.</summary>
    public static IReadOnlyList<string> ThisProgram()
    {
        string process = Environment.ProcessPath ?? "dotnet";
        // Under the dotnet host, argv[0] as .NET reports it is the entry assembly's full path (Assembly.Location
        // would say the same, but is empty in a native build).
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && Environment.GetCommandLineArgs() is [{ Length: > 0 } dll, ..]
            ? [process, dll]
            : [process];
    }

    /// <exception cref="DispatchException">spawn_failed: setsid (or this program) cannot be started.</exception>
    public async Task StartAsync(string stateDir, CancellationToken cancellationToken = default)
    {
        try
        {
            await Start(stateDir, cancellationToken);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new DispatchException(Runs.ErrorCodes.SpawnFailed,
                $"cannot start the agent: 'setsid' could not be run ({e.Message}); install util-linux (Debian: apt-get install util-linux)", inner: e);
        }
    }

    private async Task Start(string stateDir, CancellationToken cancellationToken)
    {
        await Cli.Wrap("setsid")
            .WithArguments(["-f", .. testdispatch, "agent", "--background", "--state-dir", stateDir, .. agentArguments])
            .WithStandardInputPipe(PipeSource.Null)
            .WithStandardOutputPipe(PipeTarget.Null)
            .WithStandardErrorPipe(PipeTarget.Null)
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(cancellationToken);
    }
}
