using System.IO.Abstractions;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Transports;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// The test results of a run that is over: read from the JUnit reports under its artifacts and those its
/// <c>testdispatch.json</c> names with <c>"results"</c> (in its work dir), then kept in its directory
/// (<see cref="ResultsFile"/>), in the state dir's <see cref="CaseIndex"/>, and as counts in its record. A report that
/// cannot be read is named in the run's log and its record (<c>results_error</c>); it never changes the verdict, which
/// stays the test's exit status, and never fails the run or the agent.
/// </summary>
internal sealed class ResultsRecorder(RunStore store, TimedLog log)
{
    private static readonly IFileSystem Disk = new FileSystem();
    private readonly StatePaths paths = store.Paths;

    /// <summary>
    /// The patterns of the reports the run's <c>testdispatch.json</c> names in its work dir (<c>"results"</c>), empty when it
    /// names none; why it could not be read goes to <paramref name="errors"/>, when given.
    /// </summary>
    public static IReadOnlyList<string> PatternsOf(Run run, List<string>? errors = null)
    {
        try
        {
            return TestManifest.Read(Disk, run.TestDir)?.Results ?? [];
        }
        catch (Exception e) when (e is DispatchException || IoErrors.IsIo(e))
        {
            errors?.Add(e.Message);
            return [];
        }
    }

    /// <summary>
    /// Reads the run's reports: those under its artifacts, and those matching its manifest's patterns in
    /// <paramref name="workDir"/> (the run's work dir, or where a remote machine brought them back: <see cref="RunFiles.Reports"/>),
    /// writing their cases to the run's <see cref="ResultsFile"/> as they are read. Null when it left none.
    /// </summary>
    public RunResults? Read(Run run, RunFiles files, string workDir, CancellationToken cancellationToken)
    {
        List<string> errors = [];
        IReadOnlyList<string> patterns = PatternsOf(run, errors);
        IReadOnlyList<ReportFile> reports = [];
        try
        {
            reports = ResultsFinder.Find(files.Artifacts, patterns, workDir);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            errors.Add($"could not look for the run's reports: {e.Message}");
        }
        RunResults results = RunResults.Empty;
        try
        {
            results = reports.Count == 0 ? results : RunResults.Write(reports, paths.Results(run.Id), cancellationToken);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            errors.Add($"could not keep the run's results in {paths.RunDir(run.Id)}: {e.Message}");
        }
        results = results with { Errors = [.. errors, .. results.Errors] };
        return results.IsEmpty ? null : results;
    }

    /// <summary>Records what <see cref="Read"/> found for the run that ended as <paramref name="ended"/>; returns it with its counts and errors.</summary>
    public Run Keep(Run ended, RunResults results, string logPath)
    {
        List<string> errors = [.. results.Errors];
        try
        {
            string kept = paths.Results(ended.Id);
            store.AppendCases(
                CaseIndexEntry.Of(ended.Id, ended.TestDir, ended.TestDirHash, ended.Machine, ended.EndedAt ?? DateTimeOffset.UtcNow, []),
                results.Counts.Total == 0 ? [] : ResultsFile.Stream(kept).Select(CaseOutcome.Of));
        }
        catch (Exception e) when (IoErrors.IsIo(e) || e is InvalidDataException)
        {
            errors.Add($"could not keep the run's results in {paths.RunDir(ended.Id)}: {e.Message}");
        }
        if (errors.Count > 0)
        {
            SayInLog(ended.Id, logPath, errors);
        }
        return ended with { Tests = results.Counts, ResultsError = errors.Count > 0 ? string.Join('\n', errors) : null };
    }

    private void SayInLog(string runId, string logPath, List<string> errors)
    {
        try
        {
            File.AppendAllLines(logPath, errors.Select(e => $"testdispatch: {ErrorCodes.ResultsError}: {TimedLog.OneLine(e)}"));
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            log.Write($"run {runId}: could not name its unreadable reports in its log: {e.Message}");
        }
        log.Write($"run {runId}: {errors.Count} report problem(s): {TimedLog.OneLine(errors[0])}");
    }
}
