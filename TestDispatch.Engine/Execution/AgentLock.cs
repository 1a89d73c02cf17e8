using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// agent.lock, at the root of the state dir: held by the live agent for its whole life. Anyone else who
/// takes it (to check liveness and sweep orphans) must, after letting go, start an agent if pending work
/// exists: otherwise a client that found it held by such a prober would leave its run stranded.
/// </summary>
public static class AgentLock
{
    /// <summary>Tries to take agent.lock for up to <paramref name="patience"/>; null if an agent (or a prober) keeps it.</summary>
    public static IDisposable? TryTake(IFileLocks locks, StatePaths paths, TimeSpan patience)
    {
        DateTime deadline = DateTime.UtcNow + patience;
        while (true)
        {
            if (locks.TryAcquire(paths.AgentLock) is { } held)
            {
                return held;
            }
            if (DateTime.UtcNow >= deadline)
            {
                return null;
            }
            Thread.Sleep(20);
        }
    }
}
