using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// The agent's answer to a store that cannot write for a while (a full disk, a held lock): try again with backoff,
/// keeping what is to be written in memory until it is durable, and say in agent.log what it waits for. The agent and
/// its other machines go on meanwhile; only a mistake in the request itself (no such run, an illegal change) gives up.
/// </summary>
internal sealed class StoreRetry(TimedLog log)
{
    private static readonly TimeSpan Longest = TimeSpan.FromSeconds(10);

    public async Task<T> RunAsync<T>(string what, Func<T> write, CancellationToken agentStopping)
    {
        TimeSpan wait = TimeSpan.FromMilliseconds(100);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                T result = write();
                if (attempt > 1)
                {
                    log.Write($"could {what} after {attempt} tries");
                }
                return result;
            }
            catch (Exception e) when (IsTransient(e))
            {
                if (attempt == 1 || wait == Longest)
                {
                    log.Write($"could not {what}: {e.Message}; kept in memory, trying again every {wait.TotalSeconds:0.#}s");
                }
                await Task.Delay(wait, agentStopping);
                wait = TimeSpan.FromTicks(Math.Min(Longest.Ticks, wait.Ticks * 2));
            }
        }
    }

    private static bool IsTransient(Exception e) => e switch
    {
        DispatchException d => d.ErrorCode is not (ErrorCodes.RunNotFound or ErrorCodes.IllegalTransition or ErrorCodes.BatchNotFound),
        _ => e is IOException or UnauthorizedAccessException,
    };

}
