using System.Globalization;

namespace TestDispatch.Engine.Wrapper;

/// <summary>
/// One look at a run on its machine: what the run wrapper has written in the run's directory (see RunWrapper.sh),
/// whether the wrapper still runs, and the machine's boot id and clock (seconds since boot) at that moment. The
/// same for a local and a remote machine: only how the files are read differs.
/// </summary>
public sealed record WrapperState
{
    public required string BootId { get; init; }

    public required double Uptime { get; init; }

    public bool WrapperAlive { get; init; }

    /// <summary>The test's process group, once the test's process recorded it.</summary>
    public TestStart? Test { get; init; }

    /// <summary>How and when the test ended, once the wrapper saw it end.</summary>
    public TestExit? Exit { get; init; }

    /// <summary>Why and when someone began to stop the run, if anyone did before it ended.</summary>
    public StopRecord? Stop { get; init; }

    /// <summary>The pids that survived SIGKILL, once a stop (or the wrapper's cleanup) is over; null before.</summary>
    public IReadOnlyList<int>? Survivors { get; init; }

    /// <summary>The wrapper has cleaned up after the test: nothing of the run is alive but <see cref="Survivors"/>.</summary>
    public bool Done { get; init; }

    /// <summary>What became of the log: <see cref="RunWrapper.LogCut"/>, <see cref="RunWrapper.LogFull"/>, or null when nothing.</summary>
    public string? Log { get; init; }

    /// <summary>The holder record of the run that held the machine's lock, when this run could not take it (the test was not started).</summary>
    public string? Held { get; init; }

    /// <summary>Why the machine's lock cannot be had there (no flock, an unsafe lock directory): the test was not started.</summary>
    public string? NoLock { get; init; }

    /// <summary>Why a scheduler (Slurm) keeps the run's job waiting (<c>Resources</c>, <c>Priority</c>…): the test has not started.</summary>
    public string? Queued { get; init; }

    /// <summary>The node a scheduler gave the run, once it has one (a pool's machine does not name it).</summary>
    public string? Node { get; init; }

    /// <summary>How a scheduler ended the run's job without the wrapper's verdict (cancelled by someone else, preempted, node failure, its limit).</summary>
    public JobEnd? JobEnd { get; init; }

    /// <summary>The wrapper's own exit status (128 + N when signal N killed it), when this agent started it and saw it end.</summary>
    public int? WrapperStatus { get; init; }

    /// <summary>How the wrapper itself ended, for a message ("" when unknown).</summary>
    public string WrapperEnd => WrapperStatus switch
    {
        null => "",
        > 128 and var s => $" (the wrapper was killed by signal {s - 128})",
        var s => $" (the wrapper exited with status {s})",
    };

    /// <summary>
    /// The wrapper's files, read through <paramref name="read"/> (a file's text, or null when it is absent). "done" is read
    /// first: the wrapper writes it last, so every file it follows is there when read after it. Read last, a wrapper that
    /// ended between the reads looked done without its exit (a tiny test's run taken for lost, its wrapper "killed").
    /// </summary>
    public static WrapperState FromFiles(Func<string, string?> read, string bootId, double uptime, bool wrapperAlive)
    {
        bool done = read("done") is not null;
        return new()
        {
            BootId = bootId,
            Uptime = uptime,
            WrapperAlive = wrapperAlive,
            Test = Fields(read("pgid"), 3) is [var pgid, var ticks, var up] && Int(pgid) is { } g && Long(ticks) is { } t && Seconds(up) is { } u
                ? new TestStart(g, t, u) : null,
            Exit = Fields(read("exit"), 2) is [var status, var at] && Int(status) is { } s && Seconds(at) is { } e ? new TestExit(s, e) : null,
            Stop = Fields(read("stop"), 2) is [var reason, var when] && Seconds(when) is { } w ? new StopRecord(reason, w) : null,
            Log = Fields(read("cut"), 1) is [var cut] && cut is RunWrapper.LogCut or RunWrapper.LogFull ? cut : null,
            Survivors = read("stopped") is { } stopped
                ? [.. (Line(stopped) ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(Int).OfType<int>()]
                : null,
            Held = Line(read("held")),
            NoLock = Line(read("nolock")),
            Done = done,
        };
    }

    /// <summary>The wrapper's own pid and start ticks from its <c>wrapper</c> file (text as read), if it is whole.</summary>
    public static (int Pid, long StartTicks)? Identity(string? text) =>
        Fields(text, 2) is [var pid, var ticks] && Int(pid) is { } p && Long(ticks) is { } t ? (p, t) : null;

    /// <summary>A file's first line, if it is whole: a file without its newline is still being written.</summary>
    private static string? Line(string? text) => text is not null && text.IndexOf('\n') is var end and >= 0 ? text[..end] : null;

    private static string[]? Fields(string? text, int count) =>
        Line(text)?.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { } fields && fields.Length == count ? fields : null;

    private static int? Int(string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;

    private static long? Long(string text) => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : null;

    private static double? Seconds(string text) =>
        double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) ? value : null;
}

/// <summary>The test's process group (its leader is the test's own process) and when it was spawned.</summary>
public sealed record TestStart(int ProcessGroupId, long StartTicks, double Uptime);

/// <summary>The test's exit status as sh reports it (128 + N when signal N ended it) and when it ended.</summary>
public sealed record TestExit(int Status, double Uptime);

/// <summary>A stop someone began: <see cref="RunWrapper.Cancel"/>, <see cref="RunWrapper.Timeout"/> or <see cref="RunWrapper.Cleanup"/>.</summary>
public sealed record StopRecord(string Reason, double Uptime);

/// <summary>
/// A scheduler's end of a run's job that is no verdict of the test's: an error code (<c>job_lost</c>, or <c>timeout</c> for
/// the scheduler's own time limit) and a message saying what the scheduler said.
/// </summary>
public sealed record JobEnd(string ErrorCode, string Message);
