namespace TestDispatch.Engine.Transports.Slurm;

/// <summary>
/// The Slurm nodes' states as <c>sinfo -h -N -o '%N|%P|%T|%E|%f'</c> gives them, for <c>machines</c>: a node machine shows its
/// node's (<c>idle</c>, <c>allocated</c>, <c>drained</c> with its reason…), a pool those of its partition's nodes with its features.
/// </summary>
public static class SlurmNodes
{
    private sealed record Node(string Name, string Partition, string State, string Reason, string Features);

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
        Node[] nodes = [.. sinfo.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split('|')).Where(f => f.Length == 5).Select(f => new Node(f[0], f[1].TrimEnd('*'), f[2], f[3], f[4]))];
        return slurm.ToDictionary(m => m.Name, m =>
        {
            Node[] mine = [.. nodes
                .Where(n => (m.Node is null || n.Name == m.Node) && (m.Partition is null || n.Partition == m.Partition))
                .Where(n => m.Constraint is null || n.Features.Split(',').Contains(m.Constraint))
                .DistinctBy(n => n.Name)];
            return mine.Length == 0
                ? $"Slurm has no such node{(m.Node is null ? "s" : "")}"
                : string.Join(", ", mine.Select(n => $"{n.Name} {n.State}{(n.Reason is "none" or "" ? "" : $" ({n.Reason})")}"));
        });
    }
}
