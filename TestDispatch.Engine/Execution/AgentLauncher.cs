using CliWrap;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Starts <c>testdispatch agent</c> detached: setsid -f puts it in a new session, so closing the
/// terminal or losing the SSH session never reaches it; the agent moves its own stdio to agent.log.
/// </summary>
public sealed class AgentLauncher(IReadOnlyList<string> testdispatch, IReadOnlyList<string> agentArguments)
{
    /// <exception cref="DispatchException">spawn_failed: setsid (or this program) cannot be started.</exception>
    public async Task StartAsync(string stateDir, CancellationToken cancellationToken = default)
    {
        try
        {
            await Start(stateDir, cancellationToken);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new DispatchException(Errors.ErrorCodes.SpawnFailed,
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
