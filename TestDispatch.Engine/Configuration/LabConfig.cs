namespace TestDispatch.Engine.Configuration;

/// <summary>The validated configuration: where state lives, the defaults for runs, and the machines.</summary>
public sealed record LabConfig(string StateDir, RunDefaults Defaults, IReadOnlyList<Machine> Machines)
{
    public Machine? FindMachine(string name) => Machines.FirstOrDefault(m => m.Name == name);

    /// <summary>When health takes a machine out of service (<c>TestDispatch:Health</c>).</summary>
    public HealthRules Health { get; init; } = new();

    /// <summary>The optional Retention section: what the idle agent prunes by itself.</summary>
    public RetentionSettings? Retention { get; init; }

    /// <summary>The optional Results section: how far back a case that passed and failed counts as flaky.</summary>
    public ResultsSettings Results { get; init; } = new(ResultsSettings.DefaultFlakyWindow);

    /// <summary>Where this configuration was read from, in a user's words: the files, then the environment variables.</summary>
    public string Source { get; init; } = "built in";

    /// <summary>
    /// A digest of everything it was read from (files' paths and bytes, environment variables): two commands with the same
    /// one run with the same configuration. Null for a configuration made in code.
    /// </summary>
    public string? Fingerprint { get; init; }

    /// <summary>What a run dispatched under this configuration carries with it (see <see cref="RunSettings"/>).</summary>
    public RunSettings RunSettings => new(Defaults.KillGrace, Defaults.UnreachableGrace, Defaults.LogLimit, Source);
}

/// <summary>
/// Defaults for every run and the agent: the test entry command (an argument list), its time limit, how
/// long a stopped test gets between SIGTERM and SIGKILL, and how long an idle agent waits before exiting.
/// </summary>
public sealed record RunDefaults(IReadOnlyList<string> Command, TimeSpan Timeout, TimeSpan AgentIdle)
{
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a machine that stopped answering is still waited for, past <see cref="KillGrace"/>, once its run should be
    /// over (cancelled, or past its time limit), before the run is given up as transport_unreachable.
    /// </summary>
    public TimeSpan UnreachableGrace { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// About how many bytes of a test's output its log keeps: the first 90% as they come, then the last 10%, with a line
    /// saying what was cut between, so one runaway test cannot fill the controller's disk (and every user's state with it).
    /// </summary>
    public long LogLimit { get; init; } = 100L << 20;
}
