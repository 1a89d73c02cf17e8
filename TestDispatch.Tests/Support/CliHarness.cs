using System.Text;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Execution;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Support;

/// <summary>
/// Runs the real CLI in-process against a temporary state dir and config file, capturing its output.
/// Agents it causes are real detached processes of the built testdispatch binary; they idle out quickly.
/// </summary>
public sealed class CliHarness : IDisposable
{
    private readonly TempDir _dir = new("testdispatch-cli-");

    public CliHarness(string? machinesJson = null, string defaults = """ "AgentIdle": "3s", "KillGrace": "1s" """, string? stateDir = null)
    {
        StateDir = stateDir ?? _dir.Combine("state");
        ConfigFile = _dir.Combine("config.json");
        // The default machines lock in this harness's own directory: with the default (/tmp) every test's local-1 would be
        // one machine shared by tests running at once, whose runs would then wait for each other's (SharedMachineTests share
        // a lock directory on purpose).
        // A test's own machines do the same unless it says where they lock.
        string machines = OwnLocks(machinesJson ?? """
            [ { "Name": "local-1", "Transport": "local", "Tags": ["local"] },
              { "Name": "local-2", "Transport": "local", "Tags": ["local", "fast"] } ]
            """);
        File.WriteAllText(ConfigFile, $$"""
            { "TestDispatch": { "Defaults": { {{defaults}} }, "Machines": {{machines}} } }
            """);
    }

    /// <summary>
    /// <paramref name="machinesJson"/> with its local machines locking in this harness's directory (unless it names a
    /// LockDir itself): for a test's other configuration files on this state dir.
    /// </summary>
    public string OwnLocks(string machinesJson) => machinesJson.Contains("\"LockDir\"", StringComparison.Ordinal) ? machinesJson
        : machinesJson.Replace("\"Transport\": \"local\"", $"\"Transport\": \"local\", \"LockDir\": \"{_dir.Combine("locks")}\"", StringComparison.Ordinal);

    /// <summary>The built testdispatch program (copied beside the tests by the project reference).</summary>
    public static IReadOnlyList<string> Program => [Path.Combine(AppContext.BaseDirectory, "testdispatch")];

    public string StateDir { get; }

    public string ConfigFile { get; }

    public string Root => _dir.Path;

    public string Combine(params string[] parts) => _dir.Combine(parts);

    /// <summary>A lab on the same state dir and config as the CLI; it starts agents like the CLI does unless told not to.</summary>
    public Lab OpenLab(bool startsAgents = true) => Lab.Open(
        LabConfigLoader.Load(ConfigSources.ForThisProcess(ConfigFile, StateDir)), startsAgents ? Program : null, ["--config", ConfigFile]);

    public async Task<(int Exit, string Out, string Err)> Run(params string[] args) => await Run(args, CancellationToken.None);

    /// <summary>The CLI with another configuration file than the harness's (a client configured differently, on the same state dir).</summary>
    public async Task<(int Exit, string Out, string Err)> RunWithConfig(string configFile, params string[] args) =>
        await Run(args, CancellationToken.None, configFile: configFile);

    public async Task<(int Exit, string Out, string Err)> Run(string[] args, CancellationToken cancellationToken, Stream? rawOut = null, string? configFile = null)
    {
        MemoryStream buffer = new();
        Stream raw = rawOut ?? buffer;
        StreamWriter output = new(raw, new UTF8Encoding(false), leaveOpen: true) { AutoFlush = true };
        StringWriter error = new();
        CliConsole console = new(output, error, raw) { Program = Program };
        // Global options first: anything after a "--" in args belongs to the test command.
        int exit = await CliApp.RunAsync(["--state-dir", StateDir, "--config", configFile ?? ConfigFile, .. args], console, cancellationToken);
        await output.FlushAsync(CancellationToken.None);
        return (exit, rawOut is null ? Encoding.UTF8.GetString(buffer.ToArray()) : "", error.ToString());
    }

    /// <summary>
    /// Runs the built testdispatch as a real process on this harness's state dir and config (after <paramref name="prefix"/>,
    /// a program it runs under, such as unshare), with extra environment; returns its exit code and output.
    /// </summary>
    public async Task<(int Exit, string Out, string Err)> Exec(string[] args, IReadOnlyDictionary<string, string?>? environment = null,
        IReadOnlyList<string>? prefix = null, TimeSpan? timeout = null)
    {
        string[] command = [.. prefix ?? [], .. Program, "--state-dir", StateDir, "--config", ConfigFile, .. args];
        using CancellationTokenSource deadline = new(timeout ?? TimeSpan.FromSeconds(60));
        BufferedCommandResult result = await Cli.Wrap(command[0]).WithArguments(command[1..])
            .WithEnvironmentVariables(environment ?? new Dictionary<string, string?>())
            .WithStandardInputPipe(PipeSource.Null)
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(deadline.Token);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    /// <summary>Fails if <paramref name="stderr"/> holds a .NET stack trace: every failure must be one coded line.</summary>
    public static void AssertNoStackTrace(string stderr)
    {
        Assert.DoesNotContain("Unhandled exception", stderr, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(?m)^\s+at \S+\(", stderr);
    }

    /// <summary>Makes a test directory holding an executable run.sh with <paramref name="script"/>.</summary>
    public string MakeTest(string name, string script)
    {
        string dir = _dir.Combine("tests", name);
        Directory.CreateDirectory(dir);
        string runSh = Path.Combine(dir, "run.sh");
        File.WriteAllText(runSh, "#!/bin/sh\n" + script + "\n");
        File.SetUnixFileMode(runSh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    /// <summary>The end of this state dir's agent.log, to explain a wait that timed out (a flake under load leaves nothing else).</summary>
    public string AgentLogTail(int lines = 80)
    {
        string log = Path.Combine(StateDir, "agent.log");
        return File.Exists(log) ? string.Join(Environment.NewLine, File.ReadLines(log).TakeLast(lines)) : "(no agent.log)";
    }

    /// <summary>Stops what is left of this state dir's runs (a failed test may leave one waiting forever), then removes the dir.</summary>
    public void Dispose()
    {
        try
        {
            foreach (Engine.Runs.RunRecord record in OpenLab(startsAgents: false).Store.Active())
            {
                Processes.StopRun(Path.Combine(StateDir, "runs", record.Id), record.Id);
            }
        }
        catch (DispatchException)
        {
        }
        // Then the agent and its keeper, which may stay for good (a machine in doubt whose sshd the test took away, say):
        // the keeper first, so it starts no agent again.
        foreach (string what in new[] { AgentLauncher.KeeperFile, " agent " })
        {
            foreach (int pid in Processes.WithArgument(StateDir).Where(p => Processes.CommandLine(p).Contains(what, StringComparison.Ordinal)))
            {
                Engine.IO.Libc.Kill(pid, Engine.IO.Libc.SIGKILL);
            }
        }
        _dir.Dispose();
    }
}
