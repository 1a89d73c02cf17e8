using System.Security.Cryptography;
using System.Text;
using CliWrap;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Transports.Ssh;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Who holds each machine right now, whichever state dir or controller dispatched the run (<c>machines --holders</c>,
/// docs/DESIGN.md §12): a look at the machine's lock file there, through sh for a local machine and one ssh session for an
/// ssh machine. The lock is tried for an instant (a wrapper taking it meanwhile tries again); the holder record is read only
/// when the lock is held, so a record its writer left behind says nothing.
/// </summary>
public static class LockLook
{
    /// <summary>
    /// H and the record when held; F when free (or no lock file: nobody ran there since boot); N when there is no flock. The
    /// file is opened read only: flock(1) given a path opens it with O_CREAT, which fs.protected_regular refuses for another
    /// user's lock file in a sticky directory, and the lock would then look held for ever.
    /// </summary>
    private const string Probe = """
        td_l=LOCK
        if ! command -v flock >/dev/null 2>&1; then
            printf 'N\n'
        elif [ -f "$td_l" ] && [ ! -L "$td_l" ] && ! flock -n 8 8<"$td_l" 2>/dev/null; then
            IFS= read -r td_h <"$td_l" || td_h=
            printf 'H %s\n' "$td_h"
        else
            printf 'F\n'
        fi
        """;

    public static async Task<MachineHolder> LookAsync(Machine machine, string stateRoot, CancellationToken cancellationToken = default)
    {
        string nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        string script = $"printf 'TD-BEGIN %s\\n' {nonce}\n{Probe.Replace("LOCK", PosixShell.Quote(machine.LockFile), StringComparison.Ordinal)}\nprintf '\\nTD-END %s 0\\n' {nonce}\n";
        Command command = machine.Transport == TransportKind.Ssh
            ? Cli.Wrap("ssh").WithArguments(new SshEndpoint(machine, stateRoot).Session())
            : Cli.Wrap("sh").WithArguments(["-s"]);
        using MemoryStream output = new();
        StringBuilder error = new();
        try
        {
            using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));
            await command.WithStandardInputPipe(PipeSource.FromString(script))
                .WithStandardOutputPipe(PipeTarget.ToStream(output))
                .WithStandardErrorPipe(PipeTarget.ToStringBuilder(error))
                .WithValidation(CommandResultValidation.None)
                .ExecuteAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new MachineHolder(machine.Name, null, $"no answer from {machine.Location} within 30s");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new MachineHolder(machine.Name, null, e.Message);
        }
        if (RemoteReply.Parse(output.ToArray(), nonce) is not { } reply)
        {
            string said = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
            return new MachineHolder(machine.Name, null, $"could not look at {machine.Location}: {said}");
        }
        return reply.Values('N').Any() ? new MachineHolder(machine.Name, null, "flock is not installed there, so no run can lock it (install util-linux)")
            : reply.Values('H').FirstOrDefault() is { } held ? new MachineHolder(machine.Name, LockHolder.Parse(held), null)
            : new MachineHolder(machine.Name, null, null);
    }
}
