using TestDispatch.Engine.IO;
using TestDispatch.Engine.Results;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The state dir's <see cref="CaseIndex"/>: the agent appends a run's line, prune takes out the lines of the runs it
/// removes. Both hold <see cref="StatePaths.CaseIndexLock"/>, so a line appended while prune rewrites the file is not lost.
/// </summary>
public sealed partial class RunStore
{
    /// <summary>Appends the line of <paramref name="run"/> with <paramref name="cases"/> (<see cref="CaseIndex.Append(CaseIndexEntry, IEnumerable{CaseOutcome})"/>).</summary>
    public void AppendCases(CaseIndexEntry run, IEnumerable<CaseOutcome> cases)
    {
        using IDisposable held = AcquireCaseIndexLock();
        new CaseIndex(Paths.CaseIndex).Append(run, cases);
    }

    /// <summary>Takes the lines of <paramref name="runs"/> out of the index. One that cannot be rewritten keeps them: history then lists runs that are gone.</summary>
    private void RemoveCases(IReadOnlySet<string> runs)
    {
        try
        {
            using IDisposable held = AcquireCaseIndexLock();
            new CaseIndex(Paths.CaseIndex).Remove(runs);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
        }
    }

    private IDisposable AcquireCaseIndexLock()
    {
        try
        {
            return _locks.Acquire(Paths.CaseIndexLock, _options.LockTimeout);
        }
        catch (TimeoutException e)
        {
            throw new IOException($"{e.Message}: another testdispatch process is stuck holding it; find it with 'fuser {Paths.CaseIndexLock}'", e);
        }
    }
}
