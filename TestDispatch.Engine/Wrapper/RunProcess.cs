namespace TestDispatch.Engine.Wrapper;

/// <summary>
/// Where a running run lives, as its run wrapper reported it (docs/DESIGN.md §6): the machine and its boot, the run's
/// directory there, the wrapper process, and the test's process group with the times it started. Enough for any
/// agent to follow, stop or clean up the run after the one that launched it is gone. Start ticks are /proc/pid/stat
/// field 22, so a recycled pid is never taken for ours; a new boot id means every pid here is meaningless.
/// </summary>
/// <remarks>The generated JSON reader sets absent strings to null (records of older builds lack some): they read as "".</remarks>
public sealed record RunProcess
{
    /// <summary>The machine as people read it: "local", or user@host:port.</summary>
    public string Host { get; init => field = value ?? ""; } = "";

    public string BootId { get; init => field = value ?? ""; } = "";

    /// <summary>The run's directory on that machine: the wrapper's files, work/, artifacts/ and output.log.</summary>
    public string RunDir { get; init => field = value ?? ""; } = "";

    public int WrapperPid { get; init; }

    public long WrapperStartTicks { get; init; }

    /// <summary>The test's process group (the test leads it, so it is also the test's pid); 0 until the test started.</summary>
    public int ProcessGroupId { get; init; }

    public long StartTicks { get; init; }

    /// <summary>When the test was spawned, in seconds since that machine booted: its time limit counts from here.</summary>
    public double StartUptime { get; init; }

    /// <summary>The Slurm job running the wrapper ("" on other transports): with its name td-RUN_ID, how the job is found again.</summary>
    public string JobId { get; init => field = value ?? ""; } = "";

    /// <summary>The agent that launched the run (for messages).</summary>
    public int AgentPid { get; init; }

    /// <summary>Recorded by a build before the run wrapper: the test was the agent's own child, and died with it.</summary>
    public bool IsLegacy => WrapperPid == 0 && ProcessGroupId != 0;
}
