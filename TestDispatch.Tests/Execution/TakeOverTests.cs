using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Wrapper;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// Invariant 4 at every instant of a run's life in the agent: the agent is SIGKILLed at each named step (a crash point),
/// and the next agent takes the run over by what the machine shows. A run is launched at most once, ends with its true
/// verdict recorded once, a cancel stops its test, and nothing of it (processes, the wrapper's files) is left.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TakeOverTests : IDisposable
{
    private readonly CliHarness _cli = new(defaults: """ "AgentIdle": "3s", "KillGrace": "1s" """);

    public void Dispose() => _cli.Dispose();

    /// <summary>Every step between the run marked running and its wrapper's files removed, where an agent may die.</summary>
    public static TheoryData<string> Steps => ["run-marked-running", "work-copied", "run-launched", "run-process-recorded", "run-ended", "verdict-recorded"];

    /// <summary>The steps at which the test has not ended yet: a cancel then has something to stop (or to keep from starting).</summary>
    public static TheoryData<string> StepsBeforeTheEnd => ["run-marked-running", "work-copied", "run-launched", "run-process-recorded"];

    /// <summary>A test that counts its starts in a file, prints, then waits for <c>release</c> and exits 3.</summary>
    private (string TestDir, string Starts, string Release) Counting(string name)
    {
        string starts = _cli.Combine($"starts-{name}");
        string release = _cli.Combine($"release-{name}");
        string test = _cli.MakeTest(name, $"echo started >>'{starts}'\necho out\nsleep 0.5\nwhile [ ! -e '{release}' ]; do sleep 0.05; done\nexit 3");
        return (test, starts, release);
    }

    /// <summary>An agent in the foreground (SIGKILLing itself on reaching <paramref name="step"/>, if given) until it ends; its exit status and output.</summary>
    private async Task<BufferedCommandResult> AgentAsync(string? step = null) => await Cli.Wrap(CliHarness.Program[0])
        .WithArguments(["agent", "--state-dir", _cli.StateDir, "--config", _cli.ConfigFile])
        .WithEnvironmentVariables(e => e.Set("TESTDISPATCH_CRASH_AT", step))
        .WithValidation(CommandResultValidation.None)
        .ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token);

    private int Starts(string file) => File.Exists(file) ? File.ReadAllLines(file).Length : 0;

    private int TimesRecordedEnded(string id) => Directory.EnumerateFiles(_cli.StateDir, "journal.*.jsonl")
        .SelectMany(File.ReadLines)
        .Count(line => line.Contains($"\"id\":\"{id}\"", StringComparison.Ordinal) && line.Contains("\"ended_at\":\"", StringComparison.Ordinal));

    private string RunDir(string id) => Path.Combine(_cli.StateDir, "runs", id);

    private bool WrapperFilesLeft(string id) => RunWrapper.ControlFiles.Any(f => File.Exists(Path.Combine(RunDir(id), f)) && !(f == "wrapper" && Fenced(id))) ||
        Directory.Exists(RunDir(id)) && RunWrapper.ControlPatterns.Any(p => Directory.EnumerateFiles(RunDir(id), p).Any());

    /// <summary>
    /// Whether the run was fenced off: its <c>wrapper</c> file made by the agent that ended it before any wrapper started, so that
    /// a launch of a dead agent's still on its way never starts the test. It stays until the next agent's sweep removes the run's files.
    /// </summary>
    private bool Fenced(string id) => File.Exists(Path.Combine(RunDir(id), "wrapper")) &&
        File.ReadAllText(Path.Combine(RunDir(id), "wrapper")) == RunWrapper.Fenced + "\n";

    [Theory]
    [MemberData(nameof(Steps))]
    public async Task An_agent_killed_at_any_step_costs_nothing_the_run_is_launched_once_and_ends_with_its_verdict(string step)
    {
        (string test, string starts, string release) = Counting("finish");
        bool endsFirst = step is "run-ended" or "verdict-recorded";
        if (endsFirst)
        {
            File.WriteAllText(release, ""); // the test ends under the first agent, which dies after seeing it end
        }
        Lab lab = _cli.OpenLab(startsAgents: false);
        Run run = (await lab.DispatchAsync(test, "local-1")).Run;

        int died = (await AgentAsync(step)).ExitCode;
        File.WriteAllText(release, "");
        BufferedCommandResult next = await AgentAsync(); // takes the run over, then idles out
        Run ended = lab.Show(run.Id);

        Assert.Equal(128 + 9, died);
        Assert.True(next.ExitCode == 0, next.StandardOutput + next.StandardError);
        Assert.DoesNotContain($"run {run.Id} started", next.StandardOutput, StringComparison.Ordinal);
        Assert.Equal((RunStatus.Failed, 3, ""), (ended.Status, ended.ExitCode, ended.ErrorCode));
        Assert.Equal(1, Starts(starts));
        Assert.Equal(1, TimesRecordedEnded(run.Id));
        Assert.StartsWith("out\n", await File.ReadAllTextAsync(ended.LogsPath), StringComparison.Ordinal);
        Assert.False(WrapperFilesLeft(run.Id), $"the wrapper's files are left: {string.Join(", ", Directory.EnumerateFileSystemEntries(RunDir(run.Id)))}\n{next.StandardOutput}\nprocess: {lab.Store.Get(run.Id).Process}");
        Assert.Empty(Processes.CarryingRun(run.Id));
    }

    [Theory]
    [MemberData(nameof(StepsBeforeTheEnd))]
    public async Task A_cancel_after_an_agent_died_at_any_step_stops_the_test_it_may_have_started(string step)
    {
        (string test, string starts, _) = Counting("cancel");
        Lab lab = _cli.OpenLab(startsAgents: false);
        Run run = (await lab.DispatchAsync(test, "local-1")).Run;

        int died = (await AgentAsync(step)).ExitCode;
        await lab.CancelAsync(run.Id);
        BufferedCommandResult next = await AgentAsync();
        Run ended = lab.Show(run.Id);

        Assert.Equal(128 + 9, died);
        Assert.True(next.ExitCode == 0, next.StandardOutput + next.StandardError);
        Assert.DoesNotContain($"run {run.Id} started", next.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(RunStatus.Interrupted, ended.Status);
        Assert.True(Starts(starts) <= 1, $"the test started {Starts(starts)} times");
        Assert.Equal(Starts(starts) == 1 ? "cancelled; the test was stopped" : "cancelled before the test started", ended.ErrorMsg);
        Assert.Equal(Starts(starts) == 0, Fenced(run.Id));
        Assert.Empty(Processes.CarryingRun(run.Id));
        Assert.Equal(1, TimesRecordedEnded(run.Id));
        Assert.False(WrapperFilesLeft(run.Id), "the wrapper's files are left");
    }
}
