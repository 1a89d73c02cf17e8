namespace TestDispatch.Engine.Transports.Slurm;

/// <summary>
/// The agent's one view of Slurm's queue: one <c>squeue</c> for the jobs of every run the agent follows, at most once per
/// <see cref="Every"/> (Slurm's admins object to tools that poll per job, per second), always fresh for a job named since the
/// last one (a job just submitted must not look gone).
/// </summary>
public sealed class SlurmQueue : IDisposable
{
    public static readonly TimeSpan Every = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, DateTimeOffset> _watched = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private DateTimeOffset _at = DateTimeOffset.MinValue;
    private IReadOnlyList<SlurmJob> _jobs = [];

    /// <summary>The run's job (by its name, and its id when known), or null when Slurm knows no such job (never submitted, or purged).</summary>
    /// <exception cref="SlurmException">squeue failed (slurmctld down).</exception>
    public async Task<SlurmJob?> JobAsync(string runId, string? jobId, bool fresh, CancellationToken cancellationToken)
    {
        string name = SlurmJob.NameOf(runId);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            DateTimeOffset since = _watched.TryGetValue(name, out DateTimeOffset s) ? s : now;
            _watched[name] = since;
            if (fresh || _at <= since || now - _at >= Every)
            {
                SlurmReply reply = await SlurmClient.RunAsync("squeue", ["-h", "-t", "all", "--name", string.Join(',', _watched.Keys), "-o", SlurmJob.Format],
                    cancellationToken);
                if (!reply.Ok)
                {
                    throw new SlurmException($"squeue failed: {reply.Error}");
                }
                _jobs = SlurmJob.Parse(reply.Output);
                _at = DateTimeOffset.UtcNow;
            }
            // The newest job of that name, or the one with its id (ids are reused once they wrap: never the id alone).
            return _jobs.Where(j => j.Name == name && (string.IsNullOrEmpty(jobId) || j.Id == jobId))
                .MaxBy(j => long.TryParse(j.Id, out long id) ? id : 0);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The run's job was just submitted: the next look asks squeue afresh, as a view from before would not show it.</summary>
    public void Submitted(string runId)
    {
        _gate.Wait();
        try
        {
            _watched[SlurmJob.NameOf(runId)] = DateTimeOffset.UtcNow;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The run's verdict is recorded: its job is asked about no more.</summary>
    public void Forget(string runId)
    {
        _gate.Wait();
        try
        {
            _watched.Remove(SlurmJob.NameOf(runId));
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
