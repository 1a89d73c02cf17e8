namespace TestDispatch.Engine.Results;

/// <summary>
/// What the <see cref="CaseIndex"/> says of a run's cases: which failures are new (the case passed in the latest earlier
/// run of the same test dir that had results), which cases are flaky (they both passed and failed on the same code, the
/// test dir's hash, within a window; or passed on a rerun inside one report), and every run of one case.
/// </summary>
public static class CaseHistory
{
    /// <summary>The names of <paramref name="runId"/>'s failed and error cases that passed in the latest earlier run of its test dir.</summary>
    public static IReadOnlySet<string> NewFailures(IReadOnlyList<CaseIndexEntry> index, string runId)
    {
        int at = LastIndexOf(index, e => e.Run == runId);
        if (at < 0)
        {
            return new HashSet<string>();
        }
        CaseIndexEntry run = index[at];
        int before = LastIndexOf(index, e => e.TestDir == run.TestDir, at - 1);
        if (before < 0)
        {
            return new HashSet<string>();
        }
        HashSet<string> passed = [.. index[before].Cases.Where(c => c.Status == TestCaseStatus.Passed).Select(c => c.Name)];
        return new HashSet<string>(run.Cases.Where(c => IsFailure(c.Status) && passed.Contains(c.Name)).Select(c => c.Name), StringComparer.Ordinal);
    }

    /// <summary>
    /// The names of the cases that passed and failed on runs of <paramref name="runId"/>'s test dir hash that ended within
    /// <paramref name="window"/> up to its own end: counted from when it ran, not from now, so what a run says does not change
    /// as days pass (nor as later runs come).
    /// </summary>
    public static IReadOnlySet<string> Flaky(IReadOnlyList<CaseIndexEntry> index, string runId, TimeSpan window)
    {
        int at = LastIndexOf(index, e => e.Run == runId);
        if (at < 0)
        {
            return new HashSet<string>();
        }
        (string testDirHash, DateTimeOffset end) = (index[at].TestDirHash, index[at].EndedAt);
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
    /// with no runs and those names; none, one with no names.
    /// </summary>
    public static CaseLookup Find(IReadOnlyList<CaseIndexEntry> index, string name, string? testDir = null)
    {
        IReadOnlyList<CaseIndexEntry> entries = testDir is null ? index : [.. index.Where(e => e.TestDir == testDir)];
        SortedSet<string> names = new(StringComparer.Ordinal);
        foreach (CaseOutcome c in entries.SelectMany(e => e.Cases))
        {
            if (c.Name == name || c.Name.Contains(name, StringComparison.Ordinal))
            {
                names.Add(c.Name);
            }
        }
        string? found = names.Contains(name) ? name : names.Count == 1 ? names.Min : null;
        if (found is null)
        {
            return new CaseLookup(null, [.. names], []);
        }
        List<CaseRun> runs = [];
        for (int i = entries.Count - 1; i >= 0; i--)
        {
            CaseIndexEntry e = entries[i];
            if (e.Cases.FirstOrDefault(c => c.Name == found) is { } outcome)
            {
                runs.Add(new CaseRun(e.Run, found, outcome.Status, e.Machine, e.TestDir, outcome.TimeSeconds, e.EndedAt));
            }
        }
        return new CaseLookup(found, [found], runs);
    }

    public static bool IsFailure(TestCaseStatus status) => status is TestCaseStatus.Failed or TestCaseStatus.Error;

    private static int LastIndexOf(IReadOnlyList<CaseIndexEntry> index, Func<CaseIndexEntry, bool> match, int from = int.MaxValue)
    {
        for (int i = Math.Min(from, index.Count - 1); i >= 0; i--)
        {
            if (match(index[i]))
            {
                return i;
            }
        }
        return -1;
    }
}

/// <summary>A case looked up by name: the full name found (null when none or several match), the names that matched, and its runs.</summary>
public sealed record CaseLookup(string? Name, IReadOnlyList<string> Matches, IReadOnlyList<CaseRun> Runs);

/// <summary>One run of one case, as <c>history</c> shows it (public JSON contract): run id, case, status, machine, test dir, seconds, end.</summary>
public sealed record CaseRun(string Run, string Case, TestCaseStatus Status, string Machine, string TestDir, double? TimeS, DateTimeOffset EndedAt);
