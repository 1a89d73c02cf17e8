using System.IO.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Processes;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Diagnostics;

/// <summary>One thing <c>doctor</c> looked at, and what it found.</summary>
public sealed record Finding(Health Health, string Subject, string Message);

public enum Health
{
    Ok,
    Warning,
    Failure,

    /// <summary>Not a check: something <c>doctor --repair</c> changed.</summary>
    Repaired,

    /// <summary>Not a check: advice on what to do next.</summary>
    Advice,
}

/// <summary>
/// What <c>testdispatch doctor</c> checks: the state dir, the store, the agent, and the programs the
/// configured transports need. It only looks; repairing the store is a separate, explicit step.
/// </summary>
public static class HealthCheck
{
    public static IReadOnlyList<Finding> Run(RunStore store, Fleet fleet, LabConfig config, IFileSystem fs, IFileLocks locks)
    {
        List<Finding> findings = [];
        string root = store.Paths.Root;
        UnixFileMode mode = fs.File.GetUnixFileMode(root);
        findings.Add(StateDirectory.WhyUnsafe(fs, root) is { } unsafeBecause
            ? new Finding(Health.Failure, "state dir", unsafeBecause)
            : (mode & StateDirectory.Others) == 0
                ? new Finding(Health.Ok, "state dir", $"{root} (private to its owner, {StateDirectory.Octal(mode)})")
                : new Finding(Health.Warning, "state dir", $"{root} is readable by others ({StateDirectory.Octal(mode)}); 'testdispatch doctor --repair' makes it 0700"));
        IReadOnlyList<(string Path, UnixFileMode Mode)> loose = StateModes.Loose(fs, store.Paths);
        findings.Add(loose.Count == 0
            ? new Finding(Health.Ok, "modes", "every directory 0700 and every file 0600 (or tighter)")
            : new Finding(Health.Warning, "modes", $"{loose.Count} files or directories have group or other permissions, such as " +
                $"{string.Join(", ", loose.Take(3).Select(l => $"{l.Path} ({StateDirectory.Octal(l.Mode)})"))}: only the state dir's own 0700 " +
                "keeps other users out of them; 'testdispatch doctor --repair' makes them 0700 and 0600"));

        findings.Add(Space(root));

        IReadOnlyList<RunRecord> active;
        try
        {
            (int hot, int history) = store.Count();
            active = store.Active();
            findings.Add(new Finding(Health.Ok, "store", $"{hot + history} runs ({hot} hot, {history} in history), {active.Count} pending or running"));
            findings.Add(store.CheckHistory() is { } damage
                ? new Finding(Health.Failure, "history", damage)
                : new Finding(Health.Ok, "size", StateSize.Describe(fs, store.Paths)));
        }
        catch (DispatchException e) when (e.ErrorCode == ErrorCodes.StateCorrupt)
        {
            findings.Add(new Finding(Health.Failure, "store", e.Message));
            return findings;
        }

        bool agentAlive;
        using (IDisposable? probe = locks.TryAcquire(store.Paths.AgentLock))
        {
            agentAlive = probe is null;
        }
        int running = active.Count(r => r.Run.Status == RunStatus.Running);
        int pending = active.Count - running;
        findings.Add(agentAlive
            ? new Finding(Health.Ok, "agent", $"running{AgentPids(store.Paths)} (holds {store.Paths.AgentLock}); log: {store.Paths.AgentLog}")
            : running > 0
                ? new Finding(Health.Warning, "agent", $"not running, but {running} runs are running under their wrappers: any dispatch, wait, 'logs -f' or the app starts an agent, which takes them over")
                : pending > 0
                    ? new Finding(Health.Warning, "agent", $"not running, with {pending} runs pending: any dispatch, 'runs' or the app starts it")
                    : new Finding(Health.Ok, "agent", "idle (not running; started on demand)"));
        if (agentAlive && AgentConfigFile.Read(store.Paths.Root) is { } serving && serving.Fingerprint != config.Fingerprint)
        {
            findings.Add(new Finding(Health.Advice, "agent", $"it runs with the configuration from {serving.Source}, not this command's " +
                $"({config.Source}): each run follows the configuration it was dispatched under, on the machine it was given; a batch " +
                "submitted for machines the agent does not know hands it over to one with the submitting command's configuration"));
        }

        foreach (RunRecord record in store.Stream().Where(r => r.Leftovers is { Count: > 0 }))
        {
            findings.Add(new Finding(Health.Warning, "leftovers",
                $"run {record.Id} on {record.Run.Machine} left processes alive after SIGKILL (uninterruptible sleep?): pids {string.Join(" ", record.Leftovers!)}" +
                $" as of {UtcTimestampConverter.Format(record.Run.EndedAt ?? record.CreatedAt)}; check them with 'ps -o pid,stat,wchan,cmd -p {string.Join(",", record.Leftovers!)}'"));
        }

        foreach (MachineState machine in fleet.States().Where(m => m.Dirty is not null))
        {
            DirtyMark dirty = machine.Dirty!;
            findings.Add(new Finding(Health.Warning, machine.Name,
                $"dirty: run {dirty.Run} left processes alive after SIGKILL, pids {string.Join(" ", dirty.Pids)}; it takes no work until " +
                $"they are gone and 'testdispatch machine resume {machine.Name}' puts it back (look with 'ps -o pid,stat,wchan,cmd -p {string.Join(",", dirty.Pids)}')"));
        }

        findings.Add(new Finding(Health.Advice, "processes", "a test's processes are followed by process group, session and " +
            "TESTDISPATCH_RUN_ID; one that leaves all three (env -i setsid) is found only while it keeps the test's output open, and " +
            "the run's log names it. Only a cgroup could follow it further; this host's cgroups are " +
            (fs.File.Exists("/sys/fs/cgroup/cgroup.controllers") ? "v2, which testdispatch does not use yet" : "v1 (or none), which cannot be delegated to a user") +
            " (docs/RELIABILITY.md)"));

        foreach (string program in ProgramsNeeded)
        {
            findings.Add(OnPath(program) is { } path
                ? new Finding(Health.Ok, program, path)
                : new Finding(Health.Failure, program, $"'{program}' is not on PATH; install it (Debian: apt-get install {Package(program)})"));
        }
        if (config.Machines.Any(m => m.Transport == TransportKind.Ssh))
        {
            foreach (string program in (string[])["ssh", "rsync"])
            {
                findings.Add(OnPath(program) is { } path
                    ? new Finding(Health.Ok, program, path)
                    : new Finding(program == "ssh" ? Health.Failure : Health.Warning, program,
                        $"'{program}' is not on PATH; the ssh machines need it (Debian: apt-get install {(program == "ssh" ? "openssh-client" : "rsync")})"));
            }
        }
        return findings;
    }

    /// <summary>
    /// Room on the state dir's disk: a warning when it runs low (under a tenth of it, at most 1 GiB, at least 256 KiB), before
    /// runs' logs and the store's writes start failing (disk_full).
    /// </summary>
    private static Finding Space(string root)
    {
        if (DiskSpace.Of(root) is not (long free, long total) || total <= 0)
        {
            return new Finding(Health.Warning, "disk", $"cannot tell how much room is left where {root} is");
        }
        long low = Math.Max(DiskSpace.NearlyFull, Math.Min(1L << 30, total / 10));
        string room = $"{ByteSize.Format(free)} free of {ByteSize.Format(total)} ({100.0 * free / total:0.#}%) where {root} is";
        return free < low
            ? new Finding(Health.Warning, "disk", $"{room}: runs' logs and the store's writes fail once it is full (disk_full); free space, or " +
                "'testdispatch prune --older-than 30d' removes old runs")
            : new Finding(Health.Ok, "disk", room);
    }

    /// <summary>
    /// " (pid A, kept by keeper K)" from agent.pid, when the processes it names live; a live agent without a keeper is said
    /// to be unkept (started by hand, or its keeper killed and not yet replaced): nothing would start it again if it died.
    /// </summary>
    private static string AgentPids(StatePaths paths)
    {
        try
        {
            string[] fields = File.ReadAllText(Path.Combine(paths.Root, "agent.pid")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (fields.Length == 2 && int.TryParse(fields[0], out int agent) && int.TryParse(fields[1], out int keeper) && ProcFs.StartTicks(agent) is not null)
            {
                return keeper > 0 && ProcFs.StartTicks(keeper) is not null ? $" (pid {agent}, kept by keeper {keeper})"
                    : $" (pid {agent}, with no keeper: if it dies, the next command starts another)";
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return "";
    }

    /// <summary>What the local transport and its run wrapper run (the ssh transport adds ssh and rsync).</summary>
    private static readonly string[] ProgramsNeeded = ["setsid", "flock", "sh", "grep", "mv", "sleep", "mkfifo", "head", "tail", "wc"];

    private static string Package(string program) => program switch
    {
        "sh" => "dash",
        "grep" => "grep",
        "mv" or "sleep" or "mkfifo" or "head" or "tail" or "wc" => "coreutils",
        "setsid" or "flock" => "util-linux",
        _ => program,
    };

    private static string? OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
