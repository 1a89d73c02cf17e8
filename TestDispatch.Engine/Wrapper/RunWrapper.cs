using System.Globalization;

namespace TestDispatch.Engine.Wrapper;

/// <summary>
/// The run wrapper (RunWrapper.sh, shipped inside the engine): the POSIX sh script that owns a run on the machine where
/// it runs, local or remote alike. This gives its text and the argument lists that start and stop it; what it writes
/// back is read by <see cref="WrapperState"/>.
/// </summary>
public static class RunWrapper
{
    /// <summary>Its name in a run's directory: each run keeps the wrapper it was started with, so an upgrade mid-run changes nothing.</summary>
    public const string FileName = "wrapper.sh";

    /// <summary>Why a stop was asked for, as the wrapper records it in its <c>stop</c> file.</summary>
    public const string Cancel = "cancel";

    public const string Timeout = "timeout";

    /// <summary>Stopping what is left of a run whose wrapper is gone (the agent's cleanup): no verdict comes from it.</summary>
    public const string Cleanup = "cleanup";

    /// <summary>The wrapper stopped the test because whoever ran it sent it SIGTERM (Slurm ending the job: no verdict of ours).</summary>
    public const string Signalled = "signal";

    /// <summary>Where a controller that cannot run 'stop' on the machine (Slurm) writes the reason before it signals the wrapper.</summary>
    public const string StopRequest = "stop.request";

    /// <summary>The files the wrapper writes in a run's directory (the run's log, work and artifacts aside).</summary>
    public static readonly IReadOnlyList<string> ControlFiles =
        [FileName, "wrapper", "pgid", "exit", "exit.tmp", "stop", "stop.tmp", "stopping", "stopped", "cut", "output.fifo", "output.tail", "held", "nolock", "done", StopRequest];

    /// <summary>The files in which the wrapper records what a follower reads (<see cref="WrapperState"/>): a change of any other says nothing new.</summary>
    public static readonly IReadOnlySet<string> Records = new HashSet<string>(["wrapper", "pgid", "exit", "stop", "stopped", "cut", "held", "nolock", "done"], StringComparer.Ordinal);

    /// <summary>The wrapper's files named by pattern: a stop claim's takeovers (stopping.KEY) and their makings (claim.PID).</summary>
    public static readonly IReadOnlyList<string> ControlPatterns = ["stopping.*", "claim.*"];

    public static string Script { get; } = Load();

    /// <summary>
    /// What an agent writes into a run's <c>wrapper</c> file to fence the run off (see <see cref="Fence"/>): no pid, so no reader
    /// takes it for a wrapper.
    /// </summary>
    public const string Fenced = "fenced";

    /// <summary>
    /// Keeps any wrapper from ever starting the test of the run in <paramref name="runDir"/> (a directory the caller can reach as a
    /// path: this host's, or a shared work root): makes its <c>wrapper</c> file, which a wrapper must make itself, exclusively,
    /// before it starts anything. For an agent giving up a run an earlier agent may have launched without living to record it,
    /// whose launch may still be on its way. False when a wrapper made the file first: it is there, to be found and followed.
    /// Safe to repeat.
    /// </summary>
    public static bool Fence(string runDir)
    {
        Directory.CreateDirectory(runDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            using FileStream file = new(Path.Combine(runDir, "wrapper"), FileMode.CreateNew, FileAccess.Write);
            file.Write(System.Text.Encoding.ASCII.GetBytes(Fenced + "\n"));
            return true;
        }
        catch (IOException) when (File.Exists(Path.Combine(runDir, "wrapper")))
        {
            return File.ReadAllText(Path.Combine(runDir, "wrapper")) == Fenced + "\n"; // fenced already, by an agent that died then
        }
    }

    /// <summary>
    /// The arguments to sh that run a test: <c>SCRIPT run DIR RUN_ID GRACE_MS LIMIT_MS LOG_BYTES LOCK HOLDER NAME=VALUE… -- COMMAND…</c>.
    /// The test's environment is given as words, so it reaches only the test, never the wrapper (which would then find
    /// itself among the run's processes). The wrapper stops the test itself <paramref name="limit"/> after it started, and
    /// keeps its log to about <paramref name="logBytes"/>. It runs the test only while it holds the machine's lock file
    /// <paramref name="machineLock"/>, into which it writes <paramref name="holder"/> (one line) for people to read.
    /// </summary>
    public static IReadOnlyList<string> RunArguments(string script, string runDir, string runId, TimeSpan grace, TimeSpan limit, long logBytes,
        string machineLock, string holder, IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> command) =>
        [script, "run", runDir, runId, Milliseconds(grace), Milliseconds(limit), logBytes.ToString(CultureInfo.InvariantCulture), machineLock, holder,
            .. environment.Select(e => $"{e.Key}={e.Value}"), "--", .. command];

    /// <summary>What the wrapper's <c>cut</c> file says: the log was cut at its limit.</summary>
    public const string LogCut = "cut";

    /// <summary>
    /// What the wrapper's <c>cut</c> file says: a write to the log failed for want of room, or the test failed while the disk
    /// holding the run dir (and its work dir) had less than 256 KiB left (<see cref="IO.DiskSpace.NearlyFull"/>).
    /// </summary>
    public const string LogFull = "full";

    /// <summary>The arguments to sh that stop a run: <c>SCRIPT stop DIR RUN_ID GRACE_MS REASON</c>; it returns when nothing of the run is left.</summary>
    public static IReadOnlyList<string> StopArguments(string script, string runDir, string runId, TimeSpan grace, string reason) =>
        [script, "stop", runDir, runId, Milliseconds(grace), reason];

    private static string Milliseconds(TimeSpan grace) => ((long)grace.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    private static string Load()
    {
        using Stream stream = typeof(RunWrapper).Assembly.GetManifestResourceStream("RunWrapper.sh")
            ?? throw new InvalidOperationException("the run wrapper is missing from the engine assembly (embedded resource RunWrapper.sh)");
        using StreamReader reader = new(stream);
        return reader.ReadToEnd();
    }
}
