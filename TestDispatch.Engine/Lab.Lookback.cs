using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Logs;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine;

/// <summary>
/// The front door's looking back (docs/log-search-and-diff.md): a search of every log in history, newest run first, and a
/// run's log against the last pass of its test. The engines are <see cref="LogSearch"/> and <see cref="LogDiff"/>; this
/// walks the runs and picks them.
/// </summary>
public sealed partial class Lab
{
    /// <summary>
    /// The hits of <paramref name="pattern"/> in the logs of the runs <paramref name="filter"/> keeps (its limit counts runs
    /// with a log: a pending run has none), newest run first, read as the caller goes: memory is one search buffer and one
    /// chunk of history whatever their size. A run pruned under the walk is not searched: its log going is told to
    /// <paramref name="gone"/> with the run, and the walk goes on. A log that was never written (a run that could not
    /// start) is passed over without a word.
    /// </summary>
    /// <exception cref="DispatchException">bad_input for a pattern that is no regex, at once, or that backtracks too long on a log.</exception>
    public IEnumerable<RunLogHit> SearchLogs(string pattern, LogSearchOptions options, RunFilter filter, Action<Run, LogGoneException>? gone = null,
        CancellationToken cancellationToken = default)
    {
        LogSearch search = Coded(() => new LogSearch(pattern, options));
        // The limit is applied here, after pending runs are left out: the store's would count them.
        IEnumerable<Run> runs = _store.Stream(filter with { TestDir = filter.TestDir is { } dir ? TestDirPath(dir) : null, Limit = null })
            .Select(r => r.Run).Where(r => r.Status != RunStatus.Pending);
        return Search(search, filter.Limit is { } most ? runs.Take(most) : runs, gone, cancellationToken);
    }

    private IEnumerable<RunLogHit> Search(LogSearch search, IEnumerable<Run> runs, Action<Run, LogGoneException>? gone, CancellationToken cancellationToken)
    {
        foreach (Run run in runs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using IEnumerator<LogHit> hits = search.Search(run.LogsPath, cancellationToken).GetEnumerator();
            while (true)
            {
                try
                {
                    if (!Coded(hits.MoveNext))
                    {
                        break;
                    }
                }
                catch (LogGoneException e)
                {
                    if (e.InnerException is null || !StillHeld(run.Id))
                    {
                        gone?.Invoke(run, e);
                    }
                    break;
                }
                yield return RunLogHit.Of(run, hits.Current, search.Options.FilesWithMatches);
            }
        }
    }

    /// <summary>A pattern the search cannot use is the user's to fix: bad_input, with the pattern and the reason.</summary>
    private static T Coded<T>(Func<T> search)
    {
        try
        {
            return search();
        }
        catch (LogPatternException e)
        {
            throw new DispatchException(ErrorCodes.BadInput, e.Message, e);
        }
    }

    /// <summary>Whether the store still holds the run (a log missing then was never written; else it was pruned meanwhile).</summary>
    private bool StillHeld(string id)
    {
        try
        {
            _store.Get(id);
            return true;
        }
        catch (DispatchException e) when (e.ErrorCode == ErrorCodes.RunNotFound)
        {
            return false;
        }
    }

    /// <summary>
    /// The log of the run <paramref name="idOrPrefix"/> against that of <paramref name="baseIdOrPrefix"/>, or without it
    /// against the last pass of its test (<see cref="LastPass"/>), volatile tokens folded away. A result too different to
    /// align is returned as such (<see cref="LogDiffOutcome.TooDifferent"/>): the face decides how to say it.
    /// </summary>
    /// <exception cref="DispatchException">no_passing_run when there is nothing to compare with; log_gone when a log is not there.</exception>
    public RunDiff DiffLogs(string idOrPrefix, string? baseIdOrPrefix = null, CancellationToken cancellationToken = default)
    {
        RunRecord run = _store.Find(idOrPrefix);
        Run against = baseIdOrPrefix is null ? LastPass(run) : _store.Find(baseIdOrPrefix).Run;
        if (new[] { against, run.Run }.FirstOrDefault(r => r.Status == RunStatus.Pending) is { } pending)
        {
            throw new DispatchException(ErrorCodes.LogGone, $"run {pending.Id} has not started yet: it has no log to compare");
        }
        try
        {
            return new RunDiff(against, run.Run, LogDiff.Compare(against.LogsPath, run.Run.LogsPath, new LogDiffOptions(), cancellationToken));
        }
        catch (LogGoneException e)
        {
            string id = e.LogPath == against.LogsPath ? against.Id : run.Id;
            throw new DispatchException(ErrorCodes.LogGone, $"run {id} has no log to compare ({e.Message})", e);
        }
    }

    /// <summary>
    /// The newest completed run of the same test dir created before <paramref name="run"/>: on the same machine if there is
    /// one, else on any machine. Newest first through history, so the walk stops at the first found.
    /// </summary>
    private Run LastPass(RunRecord run)
    {
        RunRecord? Newest(string? machine) => _store.Stream(new RunFilter(RunStatus.Completed, machine, TestDir: run.Run.TestDir))
            .FirstOrDefault(r => r.Seq < run.Seq);
        return (Newest(run.Run.Machine) ?? Newest(null))?.Run ?? throw new DispatchException(ErrorCodes.NoPassingRun,
            $"no run of {run.Run.TestDir} passed before run {run.Id}, on {run.Run.Machine} or any other machine: there is nothing to compare " +
            $"its log with; name a run to compare with ('testdispatch diff {run.Id} OTHER')");
    }
}
