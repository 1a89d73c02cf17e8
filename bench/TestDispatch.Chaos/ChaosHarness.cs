using CliWrap;
using CliWrap.Buffered;

namespace TestDispatch.Chaos;

/// <summary>
/// Sets a chaos run up and takes it down: its root dir, the state dir on a small tmpfs when one can be mounted (so that the
/// disk can be filled), a loopback sshd for the ssh machines when this host can run one, the lab; and at the end every
/// process of the run killed, the tmpfs unmounted and the root removed. The same for the command and the suite's test.
/// </summary>
internal static class ChaosHarness
{
    public static async Task<(Figures Figures, string Disk)> RunAsync(ChaosOptions options, bool keep = false, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(options.Root);
        string? tmpfs = options.DiskFill ? await MountTmpfsAsync(Path.Combine(options.Root, "disk")) : null;
        string disk = tmpfs is not null ? "a 64 MB tmpfs, filled at random moments"
            : options.DiskFill ? "the root's disk (no tmpfs could be mounted here: not filled)" : "the root's disk (not filled: --no-disk)";
        LoopbackSshd? sshd = null;
        try
        {
            List<string> machines =
            [
                """{ "Name": "local-1", "Transport": "local", "Tags": ["local", "any"] }""",
                """{ "Name": "local-2", "Transport": "local", "Tags": ["local", "any"] }""",
            ];
            List<string> names = ["local-1", "local-2"];
            if (options.Ssh && LoopbackSshd.Available)
            {
                sshd = await LoopbackSshd.StartAsync(Path.Combine(options.Root, "sshd"), cancellationToken);
                machines.AddRange([sshd.Machine("ssh-1"), sshd.Machine("ssh-2")]);
                names.AddRange(["ssh-1", "ssh-2"]);
            }
            string stateDir = Path.Combine(tmpfs ?? options.Root, "state");
            ChaosLab lab = new(options.Binary, options.Root, stateDir, machines, names);
            ChaosRun run = new(options, lab, sshd, tmpfs);
            await run.RunAsync(cancellationToken);
            return (run.Figures, disk + (sshd is null ? "; no ssh machines (sshd, ssh, rsync and root needed)" : ""));
        }
        finally
        {
            await EndEverythingAsync(options.Root);
            if (sshd is not null)
            {
                await sshd.DisposeAsync();
            }
            if (tmpfs is not null)
            {
                if (keep)
                {
                    await Cli.Wrap("cp").WithArguments(["-a", Path.Combine(tmpfs, "state"), Path.Combine(options.Root, "state-kept")])
                        .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(CancellationToken.None);
                }
                await Cli.Wrap("umount").WithArguments(["-l", tmpfs]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(CancellationToken.None);
            }
            if (!keep)
            {
                try
                {
                    Directory.Delete(options.Root, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    /// <summary>Kills every process of the run (continued first, so none stays stopped), until none is left.</summary>
    public static async Task EndEverythingAsync(string root)
    {
        for (int pass = 0; pass < 50; pass++)
        {
            List<ProcessInfo> left = [.. ProcTable.Read().Where(p => p.IsUnder(root))];
            if (left.Count == 0)
            {
                return;
            }
            foreach (ProcessInfo process in left.OrderBy(p => FaultInjector.IsKeeper(p) ? 0 : FaultInjector.IsAgent(p) ? 1 : 2))
            {
                ProcTable.Signal(process.Pid, ProcTable.SIGCONT);
                ProcTable.Signal(process.Pid, ProcTable.SIGKILL);
            }
            await Task.Delay(200);
        }
    }

    private static async Task<string?> MountTmpfsAsync(string at)
    {
        Directory.CreateDirectory(at);
        BufferedCommandResult mounted = await Cli.Wrap("mount").WithArguments(["-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", at])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        return mounted.ExitCode == 0 ? at : null;
    }
}
