namespace TestDispatch.Engine.Configuration;

/// <summary>A target where tests run, as configured (docs/DESIGN.md §2, §9).</summary>
public sealed record Machine
{
    public required string Name { get; init; }
    public required TransportKind Transport { get; init; }
    public string? Host { get; init; }
    public string? User { get; init; }
    public int Port { get; init; } = 22;
    public string? IdentityFile { get; init; }
    public IReadOnlyList<string> SshOptions { get; init; } = [];
    public string WorkRoot { get; init; } = "/var/tmp/testdispatch";

    /// <summary>A Slurm machine's node (<c>-w</c>); null for a pool: any node of <see cref="Partition"/> that has <see cref="Constraint"/>.</summary>
    public string? Node { get; init; }

    /// <summary>A Slurm machine's partition (<c>-p</c>); null for the cluster's default one.</summary>
    public string? Partition { get; init; }

    /// <summary>The Slurm features a pool's node must have (<c>--constraint</c>).</summary>
    public string? Constraint { get; init; }

    /// <summary>More sbatch options for every run (<c>--qos=test</c>, <c>--account=lab</c>); those the transport sets itself are refused.</summary>
    public IReadOnlyList<string> SlurmOptions { get; init; } = [];
    public bool KeepWorkDir { get; init; }

    /// <summary>
    /// The directory on the machine holding its lock file, which every user of the machine shares (docs/DESIGN.md §12): local
    /// (never NFS, whose flock a dead client can keep), and root's and sticky, as /tmp is, so no one can replace another's lock.
    /// </summary>
    public string LockDir { get; init; } = DefaultLockDir;

    public const string DefaultLockDir = "/tmp";

    /// <summary>The machine's lock file: whoever runs a test there holds it (flock), whichever state dir dispatched it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string LockFile => $"{LockDir.TrimEnd('/')}/testdispatch-{Name}.lock";
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>A test dir that proves the machine works (LAVA's health check): run when it is resumed, and while health holds it.</summary>
    public string? HealthCheck { get; init; }

    /// <summary>Whether this build can run tests there: on both transports, local and ssh (docs/DESIGN.md §7).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool CanRunTests => true;

    /// <summary>Why <see cref="CanRunTests"/> is false, for messages.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string WhyNotRunnable => $"machine '{Name}' uses a transport this build of testdispatch cannot run";

    /// <summary>Where it is, for people: "local" or "user@host:port".</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Location => Transport switch
    {
        TransportKind.Local => "local",
        TransportKind.Slurm => $"slurm:{Node ?? (Partition ?? "default") + " pool"}",
        _ => $"{(User is null ? "" : User + "@")}{Host}{(Port == 22 ? "" : $":{Port}")}",
    };
}

[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<TransportKind>))]
public enum TransportKind
{
    Local,
    Ssh,
    Slurm,
}
