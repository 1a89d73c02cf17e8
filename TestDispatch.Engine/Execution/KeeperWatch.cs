using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// An agent's view of its keeper (see AgentKeeper.sh): the keeper is its parent while it lives. An agent whose keeper was
/// killed would die unwatched, so it starts a new keeper, whose agent waits for agent.lock, and leaves; the new agent
/// takes its runs over.
/// </summary>
public sealed class KeeperWatch(int keeper, Func<Task> startSuccessor)
{
    /// <summary>The keeper of this process, if it was started by one.</summary>
    public static int? OfThisProcess() =>
        int.TryParse(Environment.GetEnvironmentVariable(AgentLauncher.KeeperVariable), out int pid) && pid > 0 && pid == Libc.Getppid() ? pid : null;

    public int Keeper => keeper;

    /// <summary>Whether the keeper is gone (this process was given to another parent).</summary>
    public bool Gone => Libc.Getppid() != keeper;

    /// <summary>Starts a new keeper and agent that wait for this one to let go.</summary>
    public Task StartSuccessorAsync() => startSuccessor();
}
