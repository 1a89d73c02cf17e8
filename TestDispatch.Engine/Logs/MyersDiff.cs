namespace TestDispatch.Engine.Logs;

/// <summary>
/// Myers' O(ND) difference of two sequences of line keys, in linear space: the middle snake splits the problem in
/// two and each half is solved alike (the bisection of Myers' paper, section 4b, as diff-match-patch writes it).
/// Marks which lines of each side are not in the longest common subsequence found. Bounded on purpose: more than
/// <c>maxEdits</c> changed lines, or more than <c>maxSteps</c> comparisons, and it gives up rather than run on.
/// </summary>
internal sealed class MyersDiff
{
    private readonly ulong[] _a, _b;
    private readonly bool[] _changedA, _changedB;
    private readonly int[] _forward, _backward;
    private readonly int _maxD;
    private readonly long _maxSteps;
    private readonly CancellationToken _cancellationToken;
    private long _steps;

    private MyersDiff(ulong[] a, int n, ulong[] b, int m, int maxEdits, long maxSteps, CancellationToken cancellationToken)
    {
        _cancellationToken = cancellationToken;
        _a = a;
        _b = b;
        _changedA = new bool[n];
        _changedB = new bool[m];
        // Both searches meet by d = ceil((D + 1) / 2) for an edit script of D lines; the caller checks D exactly.
        _maxD = maxEdits / 2 + 2;
        _forward = new int[2 * _maxD + 2];
        _backward = new int[2 * _maxD + 2];
        _maxSteps = maxSteps;
    }

    /// <summary>The lines of <paramref name="a"/> and <paramref name="b"/> that differ, or null when the bounds were hit.</summary>
    public static (bool[] ChangedA, bool[] ChangedB)? Diff(ulong[] a, int n, ulong[] b, int m, int maxEdits, long maxSteps,
        CancellationToken cancellationToken = default)
    {
        if (Math.Abs(n - m) > maxEdits)
        {
            return null; // at least |n - m| lines are added or removed
        }
        MyersDiff diff = new(a, n, b, m, maxEdits, maxSteps, cancellationToken);
        return diff.Compare(0, n, 0, m) ? (diff._changedA, diff._changedB) : null;
    }

    private bool Compare(int aLo, int aHi, int bLo, int bHi)
    {
        while (aLo < aHi && bLo < bHi && _a[aLo] == _b[bLo])
        {
            aLo++;
            bLo++;
        }
        while (aLo < aHi && bLo < bHi && _a[aHi - 1] == _b[bHi - 1])
        {
            aHi--;
            bHi--;
        }
        if (aLo == aHi || bLo == bHi)
        {
            _changedA.AsSpan(aLo, aHi - aLo).Fill(true);
            _changedB.AsSpan(bLo, bHi - bLo).Fill(true);
            return true;
        }
        switch (Bisect(aLo, aHi, bLo, bHi, out int x, out int y))
        {
            case Split.Found:
                return Compare(aLo, aLo + x, bLo, bLo + y) && Compare(aLo + x, aHi, bLo + y, bHi);
            case Split.NothingInCommon:
                _changedA.AsSpan(aLo, aHi - aLo).Fill(true);
                _changedB.AsSpan(bLo, bHi - bLo).Fill(true);
                return true;
            default:
                return false;
        }
    }

    private enum Split
    {
        Found,
        NothingInCommon,
        OverBounds,
    }

    /// <summary>Finds a point (x, y), relative to the range, on an optimal path through the middle snake.</summary>
    private Split Bisect(int aLo, int aHi, int bLo, int bHi, out int splitX, out int splitY)
    {
        (splitX, splitY) = (0, 0);
        int n = aHi - aLo, m = bHi - bLo;
        int maxD = Math.Min(_maxD, (n + m + 1) / 2);
        int offset = maxD + 1;
        _forward.AsSpan(0, 2 * maxD + 2).Fill(-1);
        _backward.AsSpan(0, 2 * maxD + 2).Fill(-1);
        _forward[offset + 1] = 0;
        _backward[offset + 1] = 0;
        int delta = n - m;
        bool odd = (delta & 1) != 0; // on an odd delta the forward search finds the overlap, else the backward one
        int k1Start = 0, k1End = 0, k2Start = 0, k2End = 0;
        for (int d = 0; d < maxD; d++)
        {
            for (int k1 = -d + k1Start; k1 <= d - k1End; k1 += 2)
            {
                int i1 = offset + k1;
                int x1 = k1 == -d || (k1 != d && _forward[i1 - 1] < _forward[i1 + 1]) ? _forward[i1 + 1] : _forward[i1 - 1] + 1;
                int y1 = x1 - k1;
                int snake = x1;
                while (x1 < n && y1 < m && _a[aLo + x1] == _b[bLo + y1])
                {
                    x1++;
                    y1++;
                }
                _steps += x1 - snake + 1;
                _forward[i1] = x1;
                if (x1 > n)
                {
                    k1End += 2; // ran off the right edge
                }
                else if (y1 > m)
                {
                    k1Start += 2; // ran off the bottom edge
                }
                else if (odd)
                {
                    int i2 = offset + delta - k1;
                    if (i2 >= 0 && i2 < 2 * maxD + 2 && _backward[i2] != -1 && x1 >= n - _backward[i2])
                    {
                        (splitX, splitY) = (x1, y1);
                        return Split.Found;
                    }
                }
            }
            for (int k2 = -d + k2Start; k2 <= d - k2End; k2 += 2)
            {
                int i2 = offset + k2;
                int x2 = k2 == -d || (k2 != d && _backward[i2 - 1] < _backward[i2 + 1]) ? _backward[i2 + 1] : _backward[i2 - 1] + 1;
                int y2 = x2 - k2;
                int snake = x2;
                while (x2 < n && y2 < m && _a[aLo + n - x2 - 1] == _b[bLo + m - y2 - 1])
                {
                    x2++;
                    y2++;
                }
                _steps += x2 - snake + 1;
                _backward[i2] = x2;
                if (x2 > n)
                {
                    k2End += 2;
                }
                else if (y2 > m)
                {
                    k2Start += 2;
                }
                else if (!odd)
                {
                    int i1 = offset + delta - k2;
                    if (i1 >= 0 && i1 < 2 * maxD + 2 && _forward[i1] != -1)
                    {
                        int x1 = _forward[i1];
                        int y1 = offset + x1 - i1;
                        if (x1 >= n - x2)
                        {
                            (splitX, splitY) = (x1, y1);
                            return Split.Found;
                        }
                    }
                }
            }
            _cancellationToken.ThrowIfCancellationRequested();
            if (_steps > _maxSteps)
            {
                return Split.OverBounds;
            }
        }
        // The searches went the whole way without meeting: nothing in common. Cut short by the bound: too far apart.
        return maxD == (n + m + 1) / 2 ? Split.NothingInCommon : Split.OverBounds;
    }
}
