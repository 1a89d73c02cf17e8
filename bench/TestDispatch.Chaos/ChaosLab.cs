using System.Collections.Concurrent;
using System.Text;
using CliWrap;

namespace TestDispatch.Chaos;

/// <summary>What one call of the testdispatch binary did; <see cref="Killed"/> when it was a fault's victim or ran out of time.</summary>
internal sealed record ClientResult(IReadOnlyList<string> Args, int ExitCode, string Stdout, string Stderr, bool Killed)
{
    public string FirstLine => Stdout.Split('\n', 2)[0].Trim();
}

/// <summary>
/// The lab the storms run on: a state dir (on a small tmpfs of its own when this host lets us mount one, so the disk can be
/// filled), a configuration of local and ssh machines, the test directories, and every call of the real built binary,
/// tracked while it runs so that faults can aim at clients too.
/// </summary>
internal sealed class ChaosLab
{
    /// <summary>Each test's script, by name. Every one is distinct, so its dir hash is its own.</summary>
    public static readonly IReadOnlyDictionary<string, string> Tests = new Dictionary<string, string>
    {
        ["quick"] = "echo quick; sleep 0.3",
        ["slow"] = "echo slow; sleep 3 & sleep 4; wait",
        ["forky"] = "sh -c 'sleep 5' & setsid sleep 5 & (sleep 6 &) ; echo forked; wait",
        ["failing"] = "echo failing; sleep 1; exit 3",
        ["chatty"] = "i=0; while [ $i -lt 40 ]; do echo line $i; i=$((i+1)); sleep 0.1; done",
        // Only ever dispatched with a time limit: it outlives any round.
        ["hang"] = "echo hang; trap '' TERM; sleep 600",
    };

    private readonly ConcurrentDictionary<int, string> _clients = new();

    public ChaosLab(string binary, string root, string stateDir, IReadOnlyList<string> machinesJson, IReadOnlyList<string> machineNames)
    {
        Binary = binary;
        Root = root;
        StateDir = stateDir;
        MachineNames = machineNames;
        ConfigFile = Path.Combine(root, "config.json");
        // Health holds a machine after infrastructure failures in a row: the faults make many, and a storm wants every machine.
        File.WriteAllText(ConfigFile, $$"""
            { "TestDispatch": {
                "Defaults": { "AgentIdle": "5s", "KillGrace": "1s", "Timeout": "2m" },
                "Health": { "InfraFailuresInARow": 100000 },
                "Machines": [ {{string.Join(",\n", machinesJson)}} ] } }
            """);
        foreach ((string name, string script) in Tests)
        {
            string dir = TestDir(name);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "run.sh"), "#!/bin/sh\n" + script + "\n");
            File.SetUnixFileMode(Path.Combine(dir, "run.sh"), (UnixFileMode)0b111_101_101);
        }
        Directory.CreateDirectory(Path.Combine(root, "plans"));
    }

    public string Binary { get; }

    public string Root { get; }

    public string StateDir { get; }

    public string ConfigFile { get; }

    public IReadOnlyList<string> MachineNames { get; }

    /// <summary>The clients running now.</summary>
    public IReadOnlyCollection<int> ClientPids => [.. _clients.Keys];

    public string TestDir(string name) => Path.Combine(Root, "tests", name);

    /// <summary>
    /// testdispatch --state-dir … --config … <paramref name="args"/>, to its end or for at most <paramref name="limit"/>
    /// (then killed, as a user's Ctrl-C would not be: a client must survive being SIGKILLed anywhere).
    /// </summary>
    public async Task<ClientResult> CallAsync(IReadOnlyList<string> args, TimeSpan limit, CancellationToken cancellationToken = default)
    {
        StringBuilder stdout = new(), stderr = new();
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(limit);
        CommandTask<CommandResult> task = Cli.Wrap(Binary)
            .WithArguments(["--state-dir", StateDir, "--config", ConfigFile, .. args])
            .WithStandardInputPipe(PipeSource.Null)
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(stdout))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(stop.Token);
        _clients[task.ProcessId] = string.Join(' ', args);
        try
        {
            CommandResult result = await task;
            return new ClientResult(args, result.ExitCode, stdout.ToString(), stderr.ToString(), result.ExitCode == 128 + ProcTable.SIGKILL);
        }
        catch (OperationCanceledException)
        {
            return new ClientResult(args, -1, stdout.ToString(), stderr.ToString(), Killed: true);
        }
        finally
        {
            _clients.TryRemove(task.ProcessId, out _);
        }
    }

    /// <summary>The agent log's lines that name any of <paramref name="ids"/>: the evidence a violation report carries.</summary>
    public string AgentLogAbout(IReadOnlyCollection<string> ids)
    {
        try
        {
            using FileStream stream = new(Path.Combine(StateDir, "agent.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using StreamReader reader = new(stream);
            List<string> lines = [];
            while (reader.ReadLine() is { } line)
            {
                if (ids.Any(id => line.Contains(id, StringComparison.Ordinal)))
                {
                    lines.Add(line);
                }
            }
            return string.Join(Environment.NewLine, lines.TakeLast(40));
        }
        catch (IOException e)
        {
            return $"(agent.log unreadable: {e.Message})";
        }
    }

    /// <summary>Writes a plan of <paramref name="entries"/> (test name, time limit or null) and returns its path.</summary>
    public string WritePlan(string name, IEnumerable<(string Test, string Tags, string? Timeout)> entries)
    {
        string path = Path.Combine(Root, "plans", name + ".json");
        IEnumerable<string> items = entries.Select((e, i) =>
            $$"""{ "name": "e{{i}}-{{e.Test}}", "test_dir": "{{TestDir(e.Test)}}", "tags": ["{{e.Tags}}"]{{(e.Timeout is null ? "" : $", \"timeout\": \"{e.Timeout}\"")}} }""");
        File.WriteAllText(path, $$"""{ "name": "{{name}}", "entries": [ {{string.Join(", ", items)}} ] }""");
        return path;
    }
}
