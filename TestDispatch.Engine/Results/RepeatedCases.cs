namespace TestDispatch.Engine.Results;

/// <summary>
/// One case for each (report, suite, classname, name), where a producer lists a case more than once:
/// gotestsum <c>--rerun-fails</c> lists the failed run then the rerun; pytest lists a case twice when its call
/// failed and its teardown errored. Failed and passed → flaky; only failures and errors → the worse of them.
/// Cases pass through <see cref="Watch"/> as they are read, leaving only a 64-bit hash of each name behind; when
/// some name came twice, <see cref="Merge(Func{IEnumerable{TestCase}})"/> reads them again (from where they were written) to merge those few.
/// </summary>
internal sealed class RepeatedCases
{
    private readonly HashSet<ulong> _seen = [];
    private readonly HashSet<ulong> _repeated = [];

    /// <summary>Whether some case went through <see cref="Watch"/> more than once (or two names shared a hash).</summary>
    public bool Any => _repeated.Count > 0;

    /// <summary>The cases of a whole report in memory, merged.</summary>
    public static IReadOnlyList<TestCase> Merge(IReadOnlyList<TestCase> cases)
    {
        RepeatedCases repeated = new();
        foreach (TestCase testCase in cases)
        {
            repeated.Note(testCase);
        }
        return repeated.Any ? [.. repeated.Merge(() => cases)] : cases;
    }

    /// <summary>The cases, unchanged, noting each one's name on the way.</summary>
    public IEnumerable<TestCase> Watch(IEnumerable<TestCase> cases)
    {
        foreach (TestCase testCase in cases)
        {
            Note(testCase);
            yield return testCase;
        }
    }

    private void Note(TestCase testCase)
    {
        ulong hash = Hash(testCase);
        if (!_seen.Add(hash))
        {
            _repeated.Add(hash);
        }
    }

    /// <summary>
    /// The cases <see cref="Watch"/> saw, read twice from <paramref name="cases"/>: first to gather the listings of the
    /// repeated ones, then to hand each case out once, merged, where it was first listed.
    /// </summary>
    public IEnumerable<TestCase> Merge(Func<IEnumerable<TestCase>> cases)
    {
        Dictionary<(string, string, string, string), List<TestCase>> listings = [];
        foreach (TestCase testCase in cases().Where(c => _repeated.Contains(Hash(c))))
        {
            if (!listings.TryGetValue(Key(testCase), out List<TestCase>? same))
            {
                listings.Add(Key(testCase), same = []);
            }
            same.Add(testCase);
        }
        HashSet<(string, string, string, string)> done = [];
        foreach (TestCase testCase in cases())
        {
            if (!_repeated.Contains(Hash(testCase)))
            {
                yield return testCase;
            }
            else if (done.Add(Key(testCase)))
            {
                yield return One(listings[Key(testCase)]);
            }
        }
    }

    private static (string, string, string, string) Key(TestCase c) => (c.Report, c.Suite, c.ClassName, c.Name);

    /// <summary>FNV-1a over the name's parts, each followed by a separator; a collision costs a needless merge pass, never a wrong merge.</summary>
    private static ulong Hash(TestCase c)
    {
        ulong hash = 14695981039346656037;
        foreach (string part in new[] { c.Report, c.Suite, c.ClassName, c.Name })
        {
            foreach (char ch in part)
            {
                hash = (hash ^ ch) * 1099511628211;
            }
            hash = (hash ^ 0xFFFF) * 1099511628211;
        }
        return hash;
    }

    private static TestCase One(List<TestCase> listings)
    {
        if (listings.Count == 1)
        {
            return listings[0];
        }
        bool Any(TestCaseStatus status) => listings.Exists(c => c.Status == status);
        bool bad = Any(TestCaseStatus.Failed) || Any(TestCaseStatus.Error);
        bool good = Any(TestCaseStatus.Passed) || Any(TestCaseStatus.Flaky);
        TestCaseStatus status =
            Any(TestCaseStatus.Flaky) || (bad && good) ? TestCaseStatus.Flaky
            : Any(TestCaseStatus.Failed) ? TestCaseStatus.Failed
            : Any(TestCaseStatus.Error) ? TestCaseStatus.Error
            : listings.TrueForAll(c => c.Status == TestCaseStatus.Skipped) ? TestCaseStatus.Skipped
            : TestCaseStatus.Passed;
        // Message and text from the listing that shows why: the first failure for a flaky or failed case.
        TestCase why = status switch
        {
            TestCaseStatus.Flaky => listings.First(c => c.Status is TestCaseStatus.Failed or TestCaseStatus.Error or TestCaseStatus.Flaky),
            TestCaseStatus.Passed => listings.First(c => c.Status == TestCaseStatus.Passed),
            _ => listings.First(c => c.Status == status),
        };
        return why with
        {
            Status = status,
            // A rerun is the same test run again, not more of it: the longest listing, not the sum.
            TimeSeconds = listings.Max(c => c.TimeSeconds),
            File = listings.Select(c => c.File).FirstOrDefault(f => f is not null),
            Line = listings.Select(c => c.Line).FirstOrDefault(l => l is not null),
        };
    }
}
