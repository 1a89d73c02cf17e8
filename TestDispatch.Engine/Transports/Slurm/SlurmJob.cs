namespace TestDispatch.Engine.Transports.Slurm;

/// <summary>A job as <c>squeue -h -t all -o '%i|%j|%T|%N|%r'</c> shows it: id, name, state, node (empty while pending) and reason.</summary>
public sealed record SlurmJob(string Id, string Name, string State, string Node, string Reason)
{
    /// <summary>The squeue format this parses.</summary>
    public const string Format = "%i|%j|%T|%N|%r";

    /// <summary>The job is still Slurm's: waiting or running (not COMPLETING, which follows the batch script's end).</summary>
    public bool Alive => State is "PENDING" or "CONFIGURING" or "RUNNING" or "SUSPENDED" or "REQUEUED" or "REQUEUE_HOLD" or "REQUEUE_FED"
        or "RESIZING" or "SIGNALING" or "STAGE_OUT";

    public bool Pending => State is "PENDING" or "REQUEUED" or "REQUEUE_HOLD" or "REQUEUE_FED";

    /// <summary>The jobs in squeue's output; lines that are not jobs (a name holding '|') are skipped.</summary>
    public static IReadOnlyList<SlurmJob> Parse(string output) =>
    [
        .. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split('|'))
            .Where(f => f.Length == 5)
            .Select(f => new SlurmJob(f[0], f[1], f[2], f[3], f[4])),
    ];

    /// <summary>The job name of a run: how its job is found again, with its id, by any agent.</summary>
    public static string NameOf(string runId) => $"td-{runId}";
}
