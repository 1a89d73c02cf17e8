using System.Runtime.InteropServices;

namespace TestDispatch.Tests.Support;

/// <summary>
/// The fault points a store operation passes on a <see cref="FaultyDisk"/> (opens, writes, truncations, fsyncs, renames,
/// deletes, lock acquisitions), counted from <see cref="Start"/>; the chosen one fails the way the real system reports it.
/// With sticky, every point after it fails too: a disk that stays full, or went bad.
/// </summary>
public sealed class FaultPlan
{
    public const int ENOSPC = 28;
    public const int EIO = 5;
    public const int ENOLCK = 37;

    private readonly Lock _gate = new();
    private readonly List<string> _steps = [];
    private bool _counting;
    private int? _failAt;
    private int _errno;
    private bool _sticky;
    private readonly Dictionary<string, Action> _before = [];

    /// <summary>The points passed since <see cref="Start"/>, as "kind path".</summary>
    public IReadOnlyList<string> Steps
    {
        get
        {
            lock (_gate)
            {
                return [.. _steps];
            }
        }
    }

    /// <summary>The first point that was made to fail, if any.</summary>
    public string? Failed { get; private set; }

    /// <summary>Counts from now on; fails point number <paramref name="failAt"/> (1-based) with <paramref name="errno"/>.</summary>
    public void Start(int? failAt = null, int errno = ENOSPC, bool sticky = false)
    {
        lock (_gate)
        {
            _steps.Clear();
            (_counting, _failAt, _errno, _sticky, Failed) = (true, failAt, errno, sticky, null);
        }
    }

    /// <summary>Stops counting and failing: the disk works again.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            (_counting, _failAt) = (false, null);
        }
    }

    /// <summary>Runs <paramref name="action"/> once, just before the step "kind path" next happens: what another process does then.</summary>
    public void Before(string step, Action action)
    {
        lock (_gate)
        {
            _before[step] = action;
        }
    }

    /// <summary>Passes a fault point: 0 if it goes through, else the errno it fails with.</summary>
    public int Hit(string kind, string path)
    {
        Action? before;
        lock (_gate)
        {
            _before.Remove($"{kind} {path}", out before);
        }
        before?.Invoke();
        lock (_gate)
        {
            if (!_counting)
            {
                return 0;
            }
            _steps.Add($"{kind} {path}");
            if (_failAt is not { } failAt || _steps.Count < failAt || (_steps.Count > failAt && !_sticky))
            {
                return 0;
            }
            Failed ??= $"{kind} {path}";
            return _errno;
        }
    }

    /// <summary>Throws what .NET throws for this point's errno when it fails.</summary>
    public void HitOrThrow(string kind, string path)
    {
        if (Hit(kind, path) is var errno and not 0)
        {
            throw Error(errno, path);
        }
    }

    /// <summary>The exception .NET raises for a failed system call on <paramref name="path"/>: the errno as HResult.</summary>
    public static Exception Error(int errno, string path)
    {
        IOException io = new($"{Marshal.GetPInvokeErrorMessage(errno)} : '{path}'", errno);
        return errno is 1 or 13 ? new UnauthorizedAccessException($"Access to the path '{path}' is denied.", io) : io;
    }
}
