using System.Diagnostics;
using System.Text;
using CliWrap;

namespace TestDispatch.Tests.Support;

/// <summary>
/// One running TestDispatch.Tests.Fixture process (a real OS process, started with CliWrap): its stdout
/// lines as they arrive, waits on them with a deadline, and SIGKILL. Disposing kills it if it still runs.
/// </summary>
public sealed class FixtureProgram : IAsyncDisposable
{
    private static readonly Lazy<string> Dll = new(LocateDll);

    private readonly Lock _gate = new();
    private readonly List<string> _lines = [];
    private readonly StringBuilder _stderr = new();
    private readonly CancellationTokenSource _forceKill = new();
    private readonly CommandTask<CommandResult> _process;
    private TaskCompletionSource _nextLine = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FixtureProgram(IReadOnlyList<string> arguments)
    {
        Arguments = string.Join(' ', arguments);
        _process = Cli.Wrap(DotnetHost)
            .WithArguments(["exec", Dll.Value, .. arguments])
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(OnLine))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(_stderr))
            .ExecuteAsync(_forceKill.Token);
    }

    /// <summary>The fixture's command line after the dll, for messages.</summary>
    public string Arguments { get; }

    public int ProcessId => _process.ProcessId;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    public static FixtureProgram Start(params IReadOnlyList<string> arguments) => new(arguments);

    /// <summary>The command line that runs the fixture with <paramref name="arguments"/>, for running it under another program.</summary>
    public static IReadOnlyList<string> CommandLine(params IReadOnlyList<string> arguments) => [DotnetHost, "exec", Dll.Value, .. arguments];

    /// <summary>Waits until <paramref name="condition"/> holds for the stdout lines so far; fails if the process exits first.</summary>
    public async Task WaitForLinesAsync(Func<IReadOnlyList<string>, bool> condition, TimeSpan timeout)
    {
        using CancellationTokenSource deadline = new(timeout);
        while (true)
        {
            Task nextLine;
            lock (_gate)
            {
                if (condition(_lines))
                {
                    return;
                }
                nextLine = _nextLine.Task;
            }
            if (_process.Task.IsCompleted)
            {
                // CliWrap completes only after stdout is drained, so no line can still arrive.
                lock (_gate)
                {
                    if (condition(_lines))
                    {
                        return;
                    }
                }
                CommandResult exited = await _process.Task;
                throw new InvalidOperationException(Describe($"exited with code {exited.ExitCode} before the awaited output"));
            }
            try
            {
                await Task.WhenAny(nextLine, _process.Task).WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException(Describe($"did not print the awaited output within {timeout.TotalSeconds:0.#}s"));
            }
        }
    }

    /// <summary>Waits for the process to end on its own and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            CommandResult result = await _process.Task.WaitAsync(timeout);
            return result.ExitCode;
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(Describe($"did not exit within {timeout.TotalSeconds:0.#}s"));
        }
    }

    /// <summary>Kills the process with SIGKILL (what Process.Kill sends on Linux), so it gets no chance to clean up; returns its exit code.</summary>
    public async Task<int> KillAsync()
    {
        using (Process process = Process.GetProcessById(ProcessId))
        {
            process.Kill();
        }
        return await WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>The exit code, stderr and last stdout lines, for a failing assertion's message.</summary>
    public string Describe(string what)
    {
        string stderr;
        lock (_gate)
        {
            stderr = _stderr.ToString();
        }
        IReadOnlyList<string> lines = Lines;
        return $"fixture '{Arguments}' (pid {ProcessId}) {what}.\nstderr:\n{stderr}\nlast stdout lines:\n{string.Join('\n', lines.TakeLast(5))}";
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.Task.IsCompleted)
        {
            await _forceKill.CancelAsync();
        }
        try
        {
            await _process;
        }
        catch (OperationCanceledException)
        {
        }
        _forceKill.Dispose();
    }

    private void OnLine(string line)
    {
        TaskCompletionSource arrived;
        lock (_gate)
        {
            _lines.Add(line);
            arrived = _nextLine;
            _nextLine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        arrived.SetResult();
    }

    /// <summary>The muxer of the SDK running the tests when there is one (the SDK sets DOTNET_HOST_PATH), else dotnet on PATH.</summary>
    private static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>
    /// The fixture is built (through a ProjectReference that does not copy it) to the same place under its own
    /// project as the tests are under theirs: TestDispatch.Tests/bin/Debug/net10.0/ pairs with
    /// TestDispatch.Tests.Fixture/bin/Debug/net10.0/.
    /// </summary>
    private static string LocateDll()
    {
        const string TestsProject = "TestDispatch.Tests";
        const string FixtureProject = "TestDispatch.Tests.Fixture";
        string baseDir = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory);
        for (DirectoryInfo? dir = new(baseDir); dir?.Parent is { } parent; dir = parent)
        {
            if (dir.Name == TestsProject)
            {
                string output = Path.Combine(parent.FullName, FixtureProject, Path.GetRelativePath(dir.FullName, baseDir));
                string dll = Path.Combine(output, $"{FixtureProject}.dll");
                return File.Exists(dll)
                    ? dll
                    : throw new FileNotFoundException($"{FixtureProject} is not built at {output}; build the solution (dotnet build) first.", dll);
            }
        }
        throw new DirectoryNotFoundException($"cannot find the {TestsProject} project folder above {baseDir}, so not the fixture beside it either");
    }
}
