using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace TestDispatch.Engine.Transports.Slurm;

/// <summary>
/// Slurm's client commands (sbatch, squeue, scancel, sinfo, scontrol), run as argument lists with a time limit: a
/// slurmctld that does not answer makes each of them retry for about MessageTimeout before it fails (docs/SLURM-FACTS.md).
/// They find the cluster as Slurm's own tools do (SLURM_CONF, else /etc/slurm/slurm.conf).
/// </summary>
public static class SlurmClient
{
    /// <summary>Longer than a client's own retries against a slurmctld that is down (MessageTimeout − 1 s, 9 s by default; scontrol twice).</summary>
    public static readonly TimeSpan CallLimit = TimeSpan.FromSeconds(30);

    /// <summary>What one command said; <see cref="SlurmReply.Exit"/> is -1 when it could not be started or ran past its limit.</summary>
    public static async Task<SlurmReply> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(CallLimit);
        try
        {
            BufferedCommandResult result = await Cli.Wrap(program).WithArguments(arguments)
                .WithStandardInputPipe(PipeSource.Null)
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(Encoding.UTF8, limit.Token);
            return new SlurmReply(result.ExitCode, result.StandardOutput, result.StandardError.Trim());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new SlurmReply(-1, "", $"{program} did not answer within {CallLimit.TotalSeconds:0}s");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new SlurmReply(-1, "", $"{program} could not be started ({e.Message}); install Slurm's clients (slurm-client) on the controller");
        }
    }
}

/// <summary>A Slurm command's exit status, output and error text.</summary>
public sealed record SlurmReply(int Exit, string Output, string Error)
{
    public bool Ok => Exit == 0;
}

/// <summary>Slurm could not be asked (its clients missing, slurmctld down): the look is tried again.</summary>
public sealed class SlurmException(string message) : IOException(message);
