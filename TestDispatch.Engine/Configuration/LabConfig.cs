using TestDispatch.Engine.Machines;

namespace TestDispatch.Engine.Configuration;

/// <summary>The validated configuration: where state lives, the defaults for runs, and the machines.</summary>
public sealed record LabConfig(string StateDir, RunDefaults Defaults, IReadOnlyList<Machine> Machines)
{
    public Machine? FindMachine(string name) => Machines.FirstOrDefault(m => m.Name == name);
}

/// <summary>Defaults for every run and the agent: the test entry command (an argument list), time limit, agent idle exit.</summary>
public sealed record RunDefaults(IReadOnlyList<string> Command, TimeSpan Timeout, TimeSpan AgentIdle);
