using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine;

/// <summary>Test results: a run's cases (new and flaky marked), a case's history, a batch's counts and new failures.</summary>
public sealed partial class Lab
{
    /// <summary>
    /// The cases of a run, failures first: new when the case passed in the latest earlier run of the same test dir that
    /// had results, flaky when it both passed and failed on the same test dir hash within <c>Results.FlakyWindow</c> up to the run's end.
    /// </summary>
    public RunTests Tests(string idOrPrefix)
    {
        Run run = Show(idOrPrefix);
        if (run.Tests is null)
        {
            return new RunTests(run.Id, null, run.ResultsError, []);
        }
        // Only the lines of its test dir, then of its hash, are parsed: the index is streamed, never held whole.
        IReadOnlySet<string> fresh = CaseHistory.NewFailures(CaseIndex().Read(run.TestDir), run.Id);
        IReadOnlySet<string> flaky = CaseHistory.Flaky(CaseIndex().Read(run.TestDirHash), run.Id, _config.Results.FlakyWindow);
        string path = _store.Paths.Results(run.Id);
        return new RunTests(run.Id, run.Tests, run.ResultsError, TestCaseOrder.FailuresFirst(() => ReadCases(path)).Select(c =>
            CaseResult.Of(c, fresh.Contains(c.FullName), c.Status == TestCaseStatus.Flaky || flaky.Contains(c.FullName))));
    }

    /// <summary>
    /// Every run that had the case (its full name, "suite::class::name", or a part of one only that case's name holds),
    /// newest first; with <paramref name="testDir"/>, that test dir's runs only.
    /// </summary>
    public CaseLookup CaseRuns(string name, string? testDir = null)
    {
        string? dir = testDir is null ? null : Path.TrimEndingDirectorySeparator(_fs.Path.GetFullPath(testDir));
        CaseLookup found = CaseHistory.Find(CaseIndex().Read(name), name, dir);
        string where = dir is null ? "" : $" of {dir}";
        return found switch
        {
            { Name: not null } => found,
            { Matches: [] } => throw new DispatchException(ErrorCodes.CaseNotFound,
                $"no run{where} recorded a case named or containing '{name}'; 'testdispatch show ID --tests' lists a run's cases"),
            _ => throw new DispatchException(ErrorCodes.BadInput,
                $"'{name}' is part of {found.Matches.Count} cases' names{where}: {string.Join(", ", found.Matches.Take(5))}" +
                $"{(found.Matches.Count > 5 ? ", …" : "")}; give one whole, or more of it"),
        };
    }

    /// <summary>The batch with the counts of its items' latest runs' cases and their new failures, when any of them had results.</summary>
    private Batch WithTests(Batch batch)
    {
        if (batch.Items is not { } items || items.All(i => i.RunId is null))
        {
            return batch;
        }
        IReadOnlyList<CaseIndexEntry> index = [.. CaseIndex().Read()];
        Dictionary<string, CaseIndexEntry> byRun = index.ToDictionary(e => e.Run, StringComparer.Ordinal);
        TestCounts? counts = null;
        List<NewFailure> fresh = [];
        foreach (BatchItem item in items)
        {
            if (item.RunId is { } run && byRun.TryGetValue(run, out CaseIndexEntry? entry))
            {
                counts = (counts ?? TestCounts.Zero) + TestCounts.OfStatuses(entry.Cases.Select(c => c.Status));
                fresh.AddRange(CaseHistory.NewFailures(index, run).Order(StringComparer.Ordinal).Select(c => new NewFailure(item.Name, run, c)));
            }
        }
        return counts is null ? batch : batch with { Tests = counts, NewFailures = fresh };
    }

    private CaseIndex CaseIndex() => new(_store.Paths.CaseIndex);

    /// <summary>The cases in the run's results file, read as they are asked for; none when it has none.</summary>
    private static IEnumerable<TestCase> ReadCases(string path)
    {
        using IEnumerator<TestCase> cases = ResultsFile.Stream(path).GetEnumerator();
        while (true)
        {
            try
            {
                if (!cases.MoveNext())
                {
                    yield break;
                }
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                yield break;
            }
            catch (InvalidDataException e)
            {
                throw new DispatchException(ErrorCodes.StateCorrupt, $"the run's results are damaged: {e.Message}");
            }
            yield return cases.Current;
        }
    }
}
