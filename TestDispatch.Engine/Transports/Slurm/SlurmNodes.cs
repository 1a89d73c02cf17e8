namespace TestDispatch.Engine.Transports.Slurm;

/// <summary>
/// The Slurm nodes' states as <c>sinfo -h -N -o '%N|%P|%T|%E|%f'</c> gives them, and who holds them as <c>squeue</c> does, for
/// <c>machines</c> and the app: a node machine shows its node's (<c>n2 allocated: job 17 (nightly) of alice</c>, <c>n3 drained
/// (maintenance)</c>), a pool those of its partition's nodes with its features.
/// </summary>
public static class SlurmNodes
{
    /// <summary>The squeue format of <see cref="Holding"/>: id, name, user, then the nodes (the name may hold '|').</summary>
    private const string JobFormat = "%i|%j|%u|%N";

    private sealed record Node(string Name, string Partition, string State, string Reason, string Features);

    private sealed record Holding(string Id, string Name, string User, string Nodes);

    /// <summary>One line per Slurm machine (by name) saying what Slurm says of its node(s); none when sinfo does not answer.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> DescribeAsync(IEnumerable<Configuration.Machine> machines, CancellationToken cancellationToken)
    {
        Configuration.Machine[] slurm = [.. machines.Where(m => m.Transport == Configuration.TransportKind.Slurm)];
        if (slurm.Length == 0)
        {
            return new Dictionary<string, string>();
        }
        SlurmReply sinfo = await SlurmClient.RunAsync("sinfo", ["-h", "-N", "-o", "%N|%P|%T|%E|%f"], cancellationToken);
        if (!sinfo.Ok)
        {
            return slurm.ToDictionary(m => m.Name, _ => $"sinfo failed: {sinfo.Error}");
        }
        Node[] nodes = [.. Lines(sinfo.Output).Select(l => l.Split('|')).Where(f => f.Length == 5)
            .Select(f => new Node(f[0], f[1].TrimEnd('*'), f[2], f[3], f[4]))];
        // Who holds the nodes: any user's job, ours or another engineer's; without it (squeue failed) the states alone.
        SlurmReply squeue = await SlurmClient.RunAsync("squeue", ["-h", "-t", "CONFIGURING,RUNNING,SUSPENDED,COMPLETING", "-o", JobFormat], cancellationToken);
        Holding[] jobs = squeue.Ok
            ? [.. Lines(squeue.Output).Select(l => l.Split('|')).Where(f => f.Length >= 4)
                .Select(f => new Holding(f[0], string.Join('|', f[1..^2]), f[^2], f[^1]))]
            : [];
        return slurm.ToDictionary(m => m.Name, m =>
        {
            Node[] mine = [.. nodes
                .Where(n => (m.Node is null || n.Name == m.Node) && (m.Partition is null || n.Partition == m.Partition))
                .Where(n => m.Constraint is null || n.Features.Split(',').Contains(m.Constraint))
                .DistinctBy(n => n.Name)];
            return mine.Length == 0
                ? $"Slurm has no such node{(m.Node is null ? "s" : "")}"
                : string.Join(", ", mine.Select(n => Describe(n, jobs)));
        });
    }

    /// <summary>
    /// <c>n2 allocated (reason): job 17 (name) of alice</c>. A job is matched by the node names squeue lists one by one: one
    /// spanning several nodes, listed as a range (<c>n[1-2]</c>), is not named (a test job holds one node).
    /// </summary>
    private static string Describe(Node node, IEnumerable<Holding> jobs)
    {
        string holders = string.Join(", ", jobs.Where(j => j.Nodes.Split(',').Contains(node.Name)).Select(j => $"job {j.Id} ({j.Name}) of {j.User}"));
        return $"{node.Name} {node.State}{(node.Reason is "none" or "" ? "" : $" ({node.Reason})")}{(holders.Length > 0 ? $": {holders}" : "")}";
    }

    private static IEnumerable<string> Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
