namespace TestDispatch.Engine.Machines;

/// <summary>What the agent last learnt of one machine: whether it answered, since when it is in that state, and why not.</summary>
public sealed record Contact
{
    public required bool Reachable { get; init; }

    public required DateTimeOffset Since { get; init; }

    public required DateTimeOffset LastContact { get; init; }

    public string? Reason { get; init; }
}
