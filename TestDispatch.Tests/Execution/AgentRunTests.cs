using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Execution;

/// <summary>Runs dispatched through the real CLI, executed by a real detached agent, on the real disk.</summary>
[Trait("Category", "Integration")]
public sealed class AgentRunTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private static Run Parse(string json) => JsonSerializer.Deserialize(json, ContractJson.Default.Run)!;

    /// <summary>A sleep duration no other test uses, to find this test's processes by command line.</summary>
    private static int UniqueSleep() => Random.Shared.Next(100_000, 999_999);

    [Fact]
    public async Task A_passing_test_completes_with_exit_0_and_its_output_in_the_log()
    {
        string test = _cli.MakeTest("pass", "echo hello from $TESTDISPATCH_MACHINE; echo to stderr >&2");

        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");

        Assert.True(exit == ExitCodes.Passed, error);
        Run run = Parse(output);
        Assert.Equal((RunStatus.Completed, 0, ""), (run.Status, run.ExitCode, run.ErrorCode));
        Assert.NotNull(run.StartedAt);
        Assert.True(run.EndedAt >= run.StartedAt);
        string log = await File.ReadAllTextAsync(run.LogsPath);
        Assert.Contains("hello from local-1", log, StringComparison.Ordinal);
        Assert.Contains("to stderr", log, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_cli.StateDir, "runs", run.Id, "work")), "the work dir is removed after the run");
    }

    [Fact]
    public async Task A_test_gets_default_signal_handling_like_in_a_shell()
    {
        string test = _cli.MakeTest("signals", """
            mask=$(awk '/^SigIgn/ {print $2}' /proc/self/status)
            echo "ignored: $mask"
            [ $(( 0x$mask & 0x1000 )) -eq 0 ] || { echo "SIGPIPE is ignored"; exit 1; }
            yes | head -c 10 >/dev/null
            """);

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");

        string log = await File.ReadAllTextAsync(Parse(output).LogsPath);
        Assert.True(exit == ExitCodes.Passed, log);
        Assert.DoesNotContain("Broken pipe", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_test_is_failed_with_its_exit_code_and_no_error_code()
    {
        string test = _cli.MakeTest("fail", "echo about to fail; exit 3");

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");

        Assert.Equal(ExitCodes.TestFailed, exit);
        Run run = Parse(output);
        Assert.Equal((RunStatus.Failed, 3, ""), (run.Status, run.ExitCode, run.ErrorCode));
    }

    [Fact]
    public async Task A_missing_command_is_spawn_failed_naming_it()
    {
        string test = _cli.MakeTest("nocmd", "exit 0");

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json", "--command", "./no-such-script.sh");

        Assert.Equal(ExitCodes.Infrastructure, exit);
        Run run = Parse(output);
        Assert.Equal((RunStatus.Failed, ErrorCodes.SpawnFailed), (run.Status, run.ErrorCode));
        Assert.Null(run.ExitCode);
        Assert.Contains("./no-such-script.sh", run.ErrorMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_that_is_not_executable_is_spawn_failed_with_the_fix()
    {
        string test = _cli.MakeTest("noexec", "exit 0");
        File.SetUnixFileMode(Path.Combine(test, "run.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        (_, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");

        Run run = Parse(output);
        Assert.Equal(ErrorCodes.SpawnFailed, run.ErrorCode);
        Assert.Contains("chmod +x", run.ErrorMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_after_double_dash_overrides_the_configured_one_with_its_arguments()
    {
        string test = _cli.MakeTest("args", "exit 9");
        File.WriteAllText(Path.Combine(test, "other.sh"), "#!/bin/sh\necho \"args:$1|$2\"\n");
        File.SetUnixFileMode(Path.Combine(test, "other.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json", "--", "./other.sh", "a b", "--fast");

        Assert.Equal(ExitCodes.Passed, exit);
        Run run = Parse(output);
        Assert.StartsWith(_cli.StateDir, run.LogsPath, StringComparison.Ordinal);
        Assert.Equal("args:a b|--fast\n", await File.ReadAllTextAsync(run.LogsPath));
    }

    [Fact]
    public async Task A_manifest_in_the_test_dir_gives_its_command_and_time_limit()
    {
        string test = _cli.MakeTest("manifest", "exit 9");
        File.WriteAllText(Path.Combine(test, "check.sh"), "#!/bin/sh\necho \"manifest says $1\"\n");
        File.SetUnixFileMode(Path.Combine(test, "check.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.WriteAllText(Path.Combine(test, "testdispatch.json"), """{ "command": ["./check.sh", "hi"], "timeout": "45s" }""");

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");

        Assert.Equal(ExitCodes.Passed, exit);
        Run run = Parse(output);
        Assert.Contains("manifest says hi", await File.ReadAllTextAsync(run.LogsPath), StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(45), _cli.OpenLab(startsAgents: false).Store.Get(run.Id).Spec.Timeout);
    }

    [Fact]
    public async Task A_test_gets_its_environment_and_its_artifacts_are_kept()
    {
        string test = _cli.MakeTest("artifacts", """
            echo "$TESTDISPATCH_RUN_ID $TESTDISPATCH_MACHINE [$TESTDISPATCH_BATCH_ID]" > "$TESTDISPATCH_ARTIFACTS/env.txt"
            mkdir -p "$TESTDISPATCH_ARTIFACTS/sub" && echo deep > "$TESTDISPATCH_ARTIFACTS/sub/file.txt"
            """);

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-2", "--wait", "--json");

        Assert.Equal(ExitCodes.Passed, exit);
        Run run = Parse(output);
        Assert.Equal($"{run.Id} local-2 []", (await File.ReadAllTextAsync(Path.Combine(run.ArtifactsPath, "env.txt"))).Trim());
        Assert.Equal("deep", (await File.ReadAllTextAsync(Path.Combine(run.ArtifactsPath, "sub", "file.txt"))).Trim());
    }

    [Fact]
    public async Task A_timeout_stops_the_whole_process_tree()
    {
        int sleep = UniqueSleep();
        string test = _cli.MakeTest("slow", $"sleep {sleep} &\nsleep {sleep + 1}\n");

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json", "--timeout", "1s");

        Assert.Equal(ExitCodes.Timeout, exit);
        Run run = Parse(output);
        Assert.Equal((RunStatus.Timeout, ErrorCodes.Timeout), (run.Status, run.ErrorCode));
        Assert.Contains("1s time limit", run.ErrorMsg, StringComparison.Ordinal);
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
        Assert.Empty(Processes.WithArgument($"sleep {sleep + 1}"));
    }

    [Fact]
    public async Task Cancel_of_a_running_test_interrupts_it_and_kills_its_grandchildren()
    {
        int sleep = UniqueSleep();
        string test = _cli.MakeTest("cancel-me", $"trap '' TERM\nsleep {sleep} &\necho started\nsleep {sleep + 1}\n");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        Lab lab = _cli.OpenLab();
        await Eventually.True(() => lab.Store.Get(id).Process is not null && Processes.WithArgument($"sleep {sleep + 1}").Count > 0,
            what: "the test to start");

        (int exit, string output, _) = await _cli.Run("cancel", id[..6], "--json");

        Assert.Equal(ExitCodes.Passed, exit);
        Run run = Parse(output);
        Assert.Equal((RunStatus.Interrupted, ErrorCodes.Interrupted), (run.Status, run.ErrorCode));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
        Assert.Empty(Processes.WithArgument($"sleep {sleep + 1}"));
    }

    [Fact]
    public async Task Cancel_of_a_pending_run_ends_it_without_starting_it()
    {
        Lab withoutAgent = _cli.OpenLab(startsAgents: false);
        string marker = _cli.Combine("started");
        string test = _cli.MakeTest("never", $"touch '{marker}'");
        Run pending = (await withoutAgent.DispatchAsync(test, "local-1")).Run;

        (int exit, string output, _) = await _cli.Run("cancel", pending.Id, "--json");
        await _cli.OpenLab().EnsureAgentAsync();

        Assert.Equal(ExitCodes.Passed, exit);
        Run run = Parse(output);
        Assert.Equal((RunStatus.Interrupted, ErrorCodes.Interrupted), (run.Status, run.ErrorCode));
        Assert.Null(run.StartedAt);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public async Task A_second_test_dir_on_a_busy_machine_exits_3_naming_the_occupying_run()
    {
        Lab withoutAgent = _cli.OpenLab(startsAgents: false);
        Run occupying = (await withoutAgent.DispatchAsync(_cli.MakeTest("first", "exit 0"), "local-1")).Run;

        (int exit, string output, string error) = await _cli.Run("run", _cli.MakeTest("second", "exit 1"), "--machine", "local-1");

        Assert.Equal(ExitCodes.MachineBusy, exit);
        Assert.Equal("", output);
        Assert.Contains("machine_busy", error, StringComparison.Ordinal);
        Assert.Contains(occupying.Id, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_test_dispatched_twice_at_once_is_one_run_and_both_waits_see_its_verdict()
    {
        string release = _cli.Combine("release");
        string test = _cli.MakeTest("twin", $"while [ ! -e '{release}' ]; do sleep 0.05; done\nexit 5");

        Task<(int, string, string)> first = _cli.Run("run", test, "--machine", "local-2", "--wait", "--json");
        Task<(int, string, string)> second = _cli.Run("run", test, "--machine", "local-2", "--wait", "--json");
        Lab lab = _cli.OpenLab();
        await Eventually.True(() => lab.Store.List().Count == 1 && lab.Store.List()[0].Run.Status == RunStatus.Running);
        await File.WriteAllTextAsync(release, "");
        (int exitA, string outA, _) = await first;
        (int exitB, string outB, _) = await second;

        Assert.Equal((ExitCodes.TestFailed, ExitCodes.TestFailed), (exitA, exitB));
        Assert.Equal(Parse(outA).Id, Parse(outB).Id);
        Assert.Equal(5, Parse(outB).ExitCode);
        Assert.Single(lab.Store.List());
    }

    [Fact]
    public async Task Logs_follow_shows_lines_while_the_run_is_still_running()
    {
        string release = _cli.Combine("release");
        string test = _cli.MakeTest("chatty", $"echo first line\nwhile [ ! -e '{release}' ]; do sleep 0.05; done\necho second line");
        (_, string id, _) = await _cli.Run("run", test, "--machine", "local-1");
        id = id.Trim();
        WatchedStream seen = new();

        Task<(int, string, string)> follow = _cli.Run(["logs", id, "-f"], CancellationToken.None, seen);
        await Eventually.True(() => seen.Text.Contains("first line", StringComparison.Ordinal), what: "the first line");
        RunStatus whileSeen = _cli.OpenLab().Store.Get(id).Run.Status;
        await File.WriteAllTextAsync(release, "");
        (int exit, _, _) = await follow;

        Assert.Equal(RunStatus.Running, whileSeen);
        Assert.Equal(ExitCodes.Passed, exit);
        Assert.Contains("first line\nsecond line\n", seen.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Binary_output_and_a_line_of_megabytes_reach_the_log_intact()
    {
        string test = _cli.MakeTest("binary", "head -c 3000000 /dev/zero | tr '\\0' 'x'\nprintf '\\377\\376\\000\\001 end'");

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");

        Assert.Equal(ExitCodes.Passed, exit);
        byte[] log = await File.ReadAllBytesAsync(Parse(output).LogsPath);
        Assert.Equal(3_000_000 + 8, log.Length);
        Assert.Equal(new byte[] { 0xff, 0xfe, 0x00, 0x01 }, log[3_000_000..3_000_004]);
    }

    [Fact]
    public async Task Hostile_test_dir_names_run_correctly_and_execute_nothing_else()
    {
        string pwned = _cli.Combine("PWNED");
        string[] names =
        [
            "with space",
            "quote'single\"double",
            $"$(touch {pwned})",
            $"semi;touch {pwned};x",
            "new\nline",
            "-leading-dash",
            $"`touch {pwned}`",
        ];
        foreach (string name in names)
        {
            string test = _cli.MakeTest(name.Replace('/', '_'), "echo \"ran in $(basename \"$PWD\")\"");

            (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");

            Assert.True(exit == ExitCodes.Passed, $"{name}: {error}");
            Assert.Equal(test, Parse(output).TestDir);
        }
        Assert.False(File.Exists(pwned));
        Assert.False(File.Exists(Path.Combine(Environment.CurrentDirectory, "PWNED")));
    }

    private sealed class WatchedStream : MemoryStream
    {
        private readonly Lock _gate = new();

        public string Text
        {
            get
            {
                lock (_gate)
                {
                    return System.Text.Encoding.UTF8.GetString(ToArray());
                }
            }
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            lock (_gate)
            {
                base.Write(buffer, offset, count);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer, offset, count);
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.ToArray(), 0, buffer.Length);
            return ValueTask.CompletedTask;
        }
    }
}
