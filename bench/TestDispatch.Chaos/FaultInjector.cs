using System.Collections.Concurrent;

namespace TestDispatch.Chaos;

/// <summary>
/// At random moments, SIGKILLs or SIGSTOPs (and SIGCONTs 0.2-3 s later) one process of the lab, picked among one kind:
/// the agent, its keeper, a client, a run wrapper, a test, an ssh client (a master or a session), an sshd session, an
/// rsync; or fills the state dir's disk for a few seconds. Only processes of this chaos run are ever touched.
/// </summary>
internal sealed class FaultInjector(ChaosLab lab, LoopbackSshd? sshd, string? diskToFill, Figures figures, Random random)
{
    /// <summary>The longest a process stays stopped: the time-limit check allows for it.</summary>
    public static readonly TimeSpan LongestStop = TimeSpan.FromSeconds(3);

    // Clients are always there and runs only now and then: the run side weighs more, so that it is hit as often.
    private static readonly (string Kind, int Weight)[] Kinds =
        [("agent", 16), ("keeper", 5), ("client", 8), ("wrapper", 18), ("test", 16), ("ssh client", 10), ("sshd session", 8), ("rsync", 4), ("disk", 5)];

    private readonly ConcurrentDictionary<int, bool> _stopped = new();
    private readonly List<Task> _pending = [];

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 1500)), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            InjectOne();
        }
    }

    /// <summary>Continues every process still stopped and waits for the disk fills to be undone.</summary>
    public async Task UndoAsync()
    {
        foreach (int pid in _stopped.Keys)
        {
            ProcTable.Signal(pid, ProcTable.SIGCONT);
        }
        _stopped.Clear();
        Task[] pending;
        lock (_pending)
        {
            pending = [.. _pending];
            _pending.Clear();
        }
        await Task.WhenAll(pending);
    }

    private void InjectOne()
    {
        IReadOnlyList<ProcessInfo> processes = ProcTable.Read();
        List<ProcessInfo> ours = [.. processes.Where(p => p.IsUnder(lab.Root))];
        HashSet<int> clients = [.. lab.ClientPids];
        Dictionary<string, IReadOnlyList<ProcessInfo>> targets = new(StringComparer.Ordinal)
        {
            ["agent"] = [.. ours.Where(p => IsAgent(p) && !IsKeeper(p))],
            ["keeper"] = [.. ours.Where(IsKeeper)],
            ["client"] = [.. ours.Where(p => clients.Contains(p.Pid))],
            ["wrapper"] = [.. ours.Where(p => p.IsWrapper)],
            ["test"] = [.. ours.Where(p => p.Machine is not null && !p.IsWrapper)],
            ["ssh client"] = [.. ours.Where(p => p.Comm == "ssh")],
            ["sshd session"] = sshd is null ? [] : [.. LoopbackSshd.Sessions(processes, sshd.Pid)],
            ["rsync"] = [.. ours.Where(p => p.Comm == "rsync")],
        };
        // Among the kinds there is something of right now: a fault aimed at nothing teaches nothing.
        string? kind = Pick([.. Kinds.Where(k => k.Kind == "disk" ? diskToFill is not null : targets[k.Kind].Count > 0)]);
        if (kind is null)
        {
            return;
        }
        if (kind == "disk")
        {
            Track(FillDiskAsync(diskToFill!, TimeSpan.FromMilliseconds(random.Next(1000, 4000))));
            return;
        }
        ProcessInfo victim = targets[kind][random.Next(targets[kind].Count)];
        if (random.Next(100) < 60)
        {
            if (ProcTable.Signal(victim.Pid, ProcTable.SIGKILL))
            {
                figures.Fault(kind, "SIGKILL");
            }
        }
        else if (ProcTable.Signal(victim.Pid, ProcTable.SIGSTOP))
        {
            figures.Fault(kind, "SIGSTOP");
            _stopped[victim.Pid] = true;
            TimeSpan pause = TimeSpan.FromMilliseconds(random.Next(200, (int)LongestStop.TotalMilliseconds));
            Track(Task.Run(async () =>
            {
                await Task.Delay(pause);
                if (_stopped.TryRemove(victim.Pid, out _))
                {
                    ProcTable.Signal(victim.Pid, ProcTable.SIGCONT);
                }
            }));
        }
    }

    public static bool IsAgent(ProcessInfo p) => p.Argv.Contains("agent") && p.Argv.Contains("--background");

    public static bool IsKeeper(ProcessInfo p) => p.Argv.Any(arg => arg.EndsWith("keeper.sh", StringComparison.Ordinal));

    private string? Pick(IReadOnlyList<(string Kind, int Weight)> kinds)
    {
        if (kinds.Count == 0)
        {
            return null;
        }
        int roll = random.Next(kinds.Sum(k => k.Weight));
        foreach ((string kind, int weight) in kinds)
        {
            if ((roll -= weight) < 0)
            {
                return kind;
            }
        }
        return kinds[^1].Kind;
    }

    /// <summary>Fills the disk holding <paramref name="dir"/> to its last byte, for <paramref name="hold"/>, then frees it.</summary>
    private async Task FillDiskAsync(string dir, TimeSpan hold)
    {
        string filler = Path.Combine(dir, $"filler-{Guid.NewGuid():N}");
        figures.Count(ref figures.DiskFills);
        try
        {
            await using (FileStream stream = new(filler, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                byte[] block = new byte[64 * 1024];
                try
                {
                    while (true)
                    {
                        stream.Write(block);
                    }
                }
                catch (IOException)
                {
                    // full
                }
                try
                {
                    stream.Write(block.AsSpan(0, 512)); // the last bytes
                }
                catch (IOException)
                {
                }
            }
        }
        catch (IOException)
        {
        }
        await Task.Delay(hold);
        File.Delete(filler);
    }

    private void Track(Task task)
    {
        lock (_pending)
        {
            _pending.Add(task);
        }
    }
}
