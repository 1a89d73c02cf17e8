namespace TestDispatch.Engine.Logs;

/// <summary>
/// Turns the changed-line marks of the middle into unified-diff hunks: each run of changes with up to
/// <see cref="LogDiffOptions.Context"/> equal lines around it, runs closer than twice that merged into one hunk
/// (as diff -u does). Context may reach into the common prefix and suffix.
/// </summary>
internal static class DiffHunks
{
    /// <summary>A run of changes, in line indexes (0-based) of the whole logs: A's [A0, A1) replaced by B's [B0, B1).</summary>
    private readonly record struct Change(long A0, long A1, long B0, long B1);

    public static IReadOnlyList<DiffHunk> Build(DiffSide a, DiffSide b, bool[] changedA, bool[] changedB, LogDiffOptions options)
    {
        List<Change> changes = Changes(a.PrefixLines, changedA, changedB);
        List<DiffHunk> hunks = [];
        int context = options.Context;
        for (int first = 0; first < changes.Count;)
        {
            int last = first;
            while (last + 1 < changes.Count && changes[last + 1].A0 - changes[last].A1 <= 2L * context)
            {
                last++;
            }
            hunks.Add(Hunk(a, b, changes, first, last, options));
            first = last + 1;
        }
        return hunks;
    }

    private static List<Change> Changes(long prefix, bool[] changedA, bool[] changedB)
    {
        List<Change> changes = [];
        int i = 0, j = 0;
        while (i < changedA.Length || j < changedB.Length)
        {
            if (i < changedA.Length && j < changedB.Length && !changedA[i] && !changedB[j])
            {
                i++;
                j++;
                continue;
            }
            int i0 = i, j0 = j;
            while (i < changedA.Length && changedA[i])
            {
                i++;
            }
            while (j < changedB.Length && changedB[j])
            {
                j++;
            }
            if (i == i0 && j == j0)
            {
                break; // unmatched unchanged lines cannot come from an alignment; stop rather than loop
            }
            changes.Add(new Change(prefix + i0, prefix + i, prefix + j0, prefix + j));
        }
        return changes;
    }

    private static DiffHunk Hunk(DiffSide a, DiffSide b, List<Change> changes, int first, int last, LogDiffOptions options)
    {
        // Equal lines pair one to one around the changes, so the context reaches as far back and on on both sides.
        long before = Math.Min(options.Context, changes[first].A0);
        long after = Math.Min(options.Context, a.TotalLines - changes[last].A1);
        long fromA = changes[first].A0 - before, fromB = changes[first].B0 - before;
        long toA = changes[last].A1 + after, toB = changes[last].B1 + after;
        List<DiffLine> lines = [];
        long lineA = fromA, lineB = fromB;
        for (int c = first; c <= last; c++)
        {
            Change change = changes[c];
            for (; lineA < change.A0; lineA++, lineB++)
            {
                lines.Add(Line(DiffLineKind.Context, a, lineA, lineA + 1, lineB + 1, options));
            }
            for (; lineA < change.A1; lineA++)
            {
                lines.Add(Line(DiffLineKind.Removed, a, lineA, lineA + 1, null, options));
            }
            for (; lineB < change.B1; lineB++)
            {
                lines.Add(Line(DiffLineKind.Added, b, lineB, null, lineB + 1, options));
            }
        }
        for (; lineA < toA; lineA++, lineB++)
        {
            lines.Add(Line(DiffLineKind.Context, a, lineA, lineA + 1, lineB + 1, options));
        }
        return new DiffHunk(fromA + 1, toA - fromA, fromB + 1, toB - fromB, lines);
    }

    private static DiffLine Line(DiffLineKind kind, DiffSide side, long index, long? numberA, long? numberB, LogDiffOptions options)
    {
        (byte[] bytes, bool cut) = side.Lines.Read(side.StartOf(index), options.MaxLineBytes);
        return new DiffLine(kind, numberA, numberB, LineText.Escaped(bytes, cut), cut);
    }
}
