using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// The agent's retention (<see cref="RetentionSettings"/>): when it has nothing to do, prune, once at the start of each
/// idle spell and at most once an hour within one, so a lab that never runs <c>prune</c> still has a state dir that stops
/// growing, and a busy agent never spends time on it. A failure is logged and tried next time.
/// </summary>
internal sealed class IdlePrune(RunStore store, RetentionSettings? retention, TimedLog log, TimeProvider clock)
{
    private static readonly TimeSpan Every = TimeSpan.FromHours(1);
    private DateTimeOffset _next = DateTimeOffset.MinValue;
    private DateTimeOffset _spell = DateTimeOffset.MinValue;

    /// <param name="idleSince">When this idle spell began.</param>
    public void WhenIdle(DateTimeOffset idleSince)
    {
        if (retention is null || (idleSince == _spell && clock.GetUtcNow() < _next))
        {
            return;
        }
        _spell = idleSince;
        _next = clock.GetUtcNow() + Every;
        try
        {
            PruneReport report = store.Prune(retention.OlderThan, retention.KeepFailed);
            if (report.Runs.Count + report.Batches.Count > 0)
            {
                log.Write($"retention: removed {report.Runs.Count} runs and {report.Batches.Count} batches that ended over " +
                    $"{Duration.Format(retention.OlderThan)} ago ({ByteSize.Format(report.Bytes)})");
            }
        }
        catch (Exception e) when (e is DispatchException or IOException or UnauthorizedAccessException)
        {
            log.Write($"retention: could not prune: {e.Message}; trying again later");
        }
    }
}
