namespace TestDispatch.Engine.Results;

/// <summary>
/// What the <see cref="CaseIndex"/> says of a run's cases: which failures are new (the case passed in the latest earlier
/// run of the same test dir that had results), which cases are flaky (they both passed and failed on the same code, the
/// test dir's hash, within a window; or passed on a rerun inside one report), and every run of one case.
/// </summary>
public static class CaseHistory
{
    /// <summary>
    /// The names of <paramref name="runId"/>'s failed and error cases that passed in the latest earlier run of its test dir.
    /// One pass that stops at the run, holding each test dir's latest entry so far.
    /// </summary>
    public static IReadOnlySet<string> NewFailures(IEnumerable<CaseIndexEntry> index, string runId)
    {
        Dictionary<string, CaseIndexEntry> latest = new(StringComparer.Ordinal);
        foreach (CaseIndexEntry entry in index)
        {
            if (entry.Run == runId)
            {
                if (!latest.TryGetValue(entry.TestDir, out CaseIndexEntry? before))
                {
                    break;
                }
                HashSet<string> passed = [.. before.Cases.Where(c => c.Status == TestCaseStatus.Passed).Select(c => c.Name)];
                return new HashSet<string>(entry.Cases.Where(c => IsFailure(c.Status) && passed.Contains(c.Name)).Select(c => c.Name), StringComparer.Ordinal);
            }
            latest[entry.TestDir] = entry;
        }
        return new HashSet<string>();
    }

    /// <summary>
    /// The names of the cases that passed and failed on runs of <paramref name="runId"/>'s test dir hash that ended within
    /// <paramref name="window"/> up to its own end: counted from when it ran, not from now, so what a run says does not change
    /// as days pass (nor as later runs come). <paramref name="index"/> is gone through twice: to find the run, then its hash's runs.
    /// </summary>
    public static IReadOnlySet<string> Flaky(IEnumerable<CaseIndexEntry> index, string runId, TimeSpan window)
    {
        if (index.FirstOrDefault(e => e.Run == runId) is not { } run)
        {
            return new HashSet<string>();
        }
        (string testDirHash, DateTimeOffset end) = (run.TestDirHash, run.EndedAt);
        HashSet<string> passed = new(StringComparer.Ordinal), failed = new(StringComparer.Ordinal), flaky = new(StringComparer.Ordinal);
        foreach (CaseIndexEntry entry in index.Where(e => e.TestDirHash == testDirHash && e.EndedAt >= end - window && e.EndedAt <= end))
        {
            foreach (CaseOutcome c in entry.Cases)
            {
                _ = c.Status switch
                {
                    TestCaseStatus.Passed => passed.Add(c.Name),
                    TestCaseStatus.Flaky => flaky.Add(c.Name),
                    _ when IsFailure(c.Status) => failed.Add(c.Name),
                    _ => false,
                };
            }
        }
        flaky.UnionWith(passed.Intersect(failed));
        return flaky;
    }

    /// <summary>
    /// The runs that had the case named <paramref name="name"/> (its full name, else the one full name containing it), newest
    /// first; with <paramref name="testDir"/>, only that test dir's. Several names containing it are a <see cref="CaseLookup"/>
    /// with no runs and those names; none, one with no names. One pass, keeping only the entries with a case containing the name.
    /// </summary>
    public static CaseLookup Find(IEnumerable<CaseIndexEntry> index, string name, string? testDir = null)
    {
        SortedSet<string> names = new(StringComparer.Ordinal);
        List<CaseIndexEntry> had = [];
        foreach (CaseIndexEntry entry in index.Where(e => testDir is null || e.TestDir == testDir))
        {
            CaseOutcome[] matching = [.. entry.Cases.Where(c => c.Name.Contains(name, StringComparison.Ordinal))];
            if (matching.Length > 0)
            {
                names.UnionWith(matching.Select(c => c.Name));
                had.Add(entry with { Cases = matching });
            }
        }
        string? found = names.Contains(name) ? name : names.Count == 1 ? names.Min : null;
        if (found is null)
        {
            return new CaseLookup(null, [.. names], []);
        }
        List<CaseRun> runs = [];
        for (int i = had.Count - 1; i >= 0; i--)
        {
            CaseIndexEntry e = had[i];
            if (e.Cases.FirstOrDefault(c => c.Name == found) is { } outcome)
            {
                runs.Add(new CaseRun(e.Run, found, outcome.Status, e.Machine, e.TestDir, outcome.TimeSeconds, e.EndedAt));
            }
        }
        return new CaseLookup(found, [found], runs);
    }

    public static bool IsFailure(TestCaseStatus status) => status is TestCaseStatus.Failed or TestCaseStatus.Error;
}

/// <summary>A case looked up by name: the full name found (null when none or several match), the names that matched, and its runs.</summary>
public sealed record CaseLookup(string? Name, IReadOnlyList<string> Matches, IReadOnlyList<CaseRun> Runs);

/// <summary>One run of one case, as <c>history</c> shows it (public JSON contract): run id, case, status, machine, test dir, seconds, end.</summary>
public sealed record CaseRun(string Run, string Case, TestCaseStatus Status, string Machine, string TestDir, double? TimeS, DateTimeOffset EndedAt);
