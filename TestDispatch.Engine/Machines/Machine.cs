namespace TestDispatch.Engine.Machines;

/// <summary>A target where tests run, as configured (DESIGN §2, §9).</summary>
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
    public bool KeepWorkDir { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Where it is, for people: "local" or "user@host:port".</summary>
    public string Location => Transport switch
    {
        TransportKind.Local => "local",
        _ => $"{(User is null ? "" : User + "@")}{Host}{(Port == 22 ? "" : $":{Port}")}",
    };
}

public enum TransportKind
{
    Local,
    Ssh,
}
