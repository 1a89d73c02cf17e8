namespace TestDispatch.Engine.Machines;

/// <summary>
/// What the agent last learnt of one machine: whether it answered, since when it is in that state, and why not; and who
/// held its lock when it last looked there (<see cref="HeldSeen"/>), from whatever state dir.
/// </summary>
public sealed record Contact
{
    public required bool Reachable { get; init; }

    public required DateTimeOffset Since { get; init; }

    public required DateTimeOffset LastContact { get; init; }

    public string? Reason { get; init; }

    /// <summary>Who held the machine's lock at the agent's last look there (<see cref="HeldSeen"/>); null when it was free.</summary>
    public LockHolder? HeldBy { get; init; }

    /// <summary>When the agent last looked at the machine's lock.</summary>
    public DateTimeOffset? HeldSeen { get; init; }
}
