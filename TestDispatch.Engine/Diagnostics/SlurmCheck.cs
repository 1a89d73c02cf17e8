using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Transports.Slurm;

namespace TestDispatch.Engine.Diagnostics;

/// <summary>
/// <c>doctor</c> for one Slurm machine, step by step: the Slurm clients found, slurmctld answering (<c>scontrol ping</c>),
/// the partition and node (or the pool's nodes) there, and the work root a directory this user can write in, which the
/// nodes must share (that they do is for the lab to ensure: a run whose node does not see it ends <c>job_lost</c>).
/// </summary>
public static class SlurmCheck
{
    private static readonly string[] Clients = ["sbatch", "squeue", "scancel", "sinfo", "scontrol"];

    public static async Task<IReadOnlyList<Finding>> RunAsync(Machine machine, CancellationToken cancellationToken = default)
    {
        List<Finding> findings = [];
        string subject = machine.Name;
        string[] missing = [.. Clients.Where(p => !OnPath(p))];
        if (missing.Length > 0)
        {
            findings.Add(new Finding(Health.Failure, subject, $"the Slurm clients {string.Join(", ", missing)} are not on PATH; install slurm-client on the controller"));
            return findings;
        }
        findings.Add(new Finding(Health.Ok, subject, "the Slurm clients (sbatch, squeue, scancel, sinfo, scontrol) found"));
        SlurmReply ping = await SlurmClient.RunAsync("scontrol", ["ping"], cancellationToken);
        if (!ping.Ok || !ping.Output.Contains("is UP", StringComparison.Ordinal))
        {
            findings.Add(new Finding(Health.Failure, subject, $"slurmctld does not answer ({(ping.Output + " " + ping.Error).Trim()}); check the controller and SLURM_CONF"));
            return findings;
        }
        findings.Add(new Finding(Health.Ok, subject, "slurmctld answers (scontrol ping)"));
        List<string> filter = ["-h", "-N", "-o", "%N|%P|%T|%E"];
        if (machine.Partition is { } partition)
        {
            filter.AddRange(["-p", partition]);
        }
        if (machine.Node is { } node)
        {
            filter.AddRange(["-n", node]);
        }
        SlurmReply nodes = await SlurmClient.RunAsync("sinfo", filter, cancellationToken);
        string where = $"{(machine.Node is null ? "no node" : $"node {machine.Node}")}{(machine.Partition is null ? "" : $" in partition {machine.Partition}")}";
        findings.Add(nodes.Ok && nodes.Output.Trim().Length > 0
            ? new Finding(Health.Ok, subject, $"Slurm has {where.Replace("no node", "nodes", StringComparison.Ordinal)}: {string.Join(", ", nodes.Output.Trim().Split('\n').Select(l => l.Split('|')[0]).Distinct())}")
            : new Finding(Health.Failure, subject, $"Slurm has {where} ({nodes.Error}); set Node and Partition as sinfo shows them"));
        try
        {
            Directory.CreateDirectory(machine.WorkRoot);
            string probe = Path.Combine(machine.WorkRoot, $".doctor.{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            findings.Add(new Finding(Health.Ok, subject, $"work root {machine.WorkRoot} is writable; every node must see it at the same path (a shared file system)"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            findings.Add(new Finding(Health.Failure, subject, $"work root {machine.WorkRoot} cannot be written ({e.Message}); make it a directory on a file system " +
                "the controller and every node share, writable by you"));
        }
        return findings;
    }

    private static bool OnPath(string program) => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Any(dir => File.Exists(Path.Combine(dir, program)));
}
