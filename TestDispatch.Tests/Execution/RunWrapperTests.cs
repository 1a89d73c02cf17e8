using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Wrapper;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// The run wrapper on its own, as a lab machine runs it: under dash, busybox sh (with busybox's own setsid, grep, mv
/// and sleep, nothing else on PATH) and bash, in a run directory whose name is as hostile as a path gets.
/// </summary>
[Trait("Category", "Integration")]
[Collection(PidPlacement.Name)]
public sealed class RunWrapperTests : IDisposable
{
    // Each test its own run id: a test that fails must not leave processes a later test's sweep would find as its own.
    private readonly string RunId = TestDispatch.Engine.Runs.RunIds.New();
    private readonly TempDir _temp = new("testdispatch-wrapper-");

    /// <summary>A time limit none of these tests reaches.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    /// <summary>A log limit none of these tests reaches but the one about it.</summary>
    private const long LogBytes = 100 << 20;

    public void Dispose() => _temp.Dispose();

    /// <summary>The machine's lock file, in a lock directory of this test's own (the wrapper makes it, 1777).</summary>
    private string LockFile => _temp.Combine("locks", "testdispatch-rig.lock");

    private const string Holder = """{"user":"tester","run_id":"this"}""";

    public static TheoryData<string> Shells => ["dash", "busybox", "bash"];

    /// <summary>Also dash with a grep that has no -z (older busybox builds): the wrapper then reads each process's environ with tr.</summary>
    public static TheoryData<string> ShellsAndOldGrep => ["dash", "busybox", "bash", OldGrep];

    private const string OldGrep = "dash-grep-without-z";

    /// <summary>A run directory named with spaces, quotes, a command substitution, glob and separator characters, a newline, a leading dash and é.</summary>
    private string RunDir(string shell)
    {
        string dir = _temp.Combine($"-run {shell} 'q' \"d\" $(touch PWNED) `touch PWNED` ;|& * ?\nline é");
        Directory.CreateDirectory(Path.Combine(dir, "work"));
        return dir;
    }

    private void Test(string dir, string body)
    {
        string script = Path.Combine(dir, "work", "run.sh");
        File.WriteAllText(script, "#!/usr/bin/env sh\n" + body + "\n");
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
    }

    /// <summary>The shell as a lab machine may have it: PATH holds only what that machine would have.</summary>
    private (string Shell, string Path) Machine(string shell)
    {
        string bin = _temp.Combine($"bin-{shell}");
        Directory.CreateDirectory(bin);
        string[] tools = shell == "busybox"
            ? ["sh", "setsid", "grep", "mv", "sleep", "cat", "kill", "ln", "rm", "mkfifo", "head", "tail", "wc", "seq", "ls", "id", "readlink", "mkdir", "env"]
            : ["sh"];
        foreach (string tool in tools.Where(t => !File.Exists(Path.Combine(bin, t))))
        {
            File.CreateSymbolicLink(Path.Combine(bin, tool), shell == "busybox" ? Which("busybox") : Which(shell == OldGrep ? "dash" : shell));
        }
        if (shell == "busybox" && !File.Exists(Path.Combine(bin, "flock")))
        {
            // Debian's busybox has no flock applet: a busybox machine has util-linux's, as it has for setsid.
            File.CreateSymbolicLink(Path.Combine(bin, "flock"), Which("flock"));
        }
        string grep = Path.Combine(bin, "grep");
        if (shell == OldGrep && !File.Exists(grep))
        {
            File.WriteAllText(grep, $"#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -z ] && {{ echo 'grep: invalid option -- z' >&2; exit 2; }}; done\nexec {Which("grep")} \"$@\"\n");
            File.SetUnixFileMode(grep, (UnixFileMode)0b111_101_101);
        }
        return (Path.Combine(bin, "sh"), shell == "busybox" ? bin : $"{bin}:/usr/bin:/bin");
    }

    private static string Which(string program) =>
        new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin" }.Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{program} is not installed; .ci/run installs it (apt-get install {program})");

    private string Script()
    {
        string path = _temp.Combine(RunWrapper.FileName);
        File.WriteAllText(path, RunWrapper.Script);
        return path;
    }

    private Command Wrapper(string shell, IReadOnlyList<string> arguments)
    {
        (string sh, string path) = Machine(shell);
        // setsid, as the agent starts it: the wrapper leads a session of its own.
        return Cli.Wrap("setsid").WithArguments([sh, .. arguments])
            .WithEnvironmentVariables(e => e.Set("PATH", path))
            .WithValidation(CommandResultValidation.None);
    }

    private static string? Line(string dir, string file) =>
        File.Exists(Path.Combine(dir, file)) ? File.ReadAllText(Path.Combine(dir, file)).Split('\n')[0] : null;

    [Theory]
    [MemberData(nameof(ShellsAndOldGrep))]
    public async Task It_runs_the_test_keeps_its_output_in_order_records_how_it_ended_and_stops_what_it_left(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"""
            i=0; while [ $i -lt 50 ]; do echo "out $i"; echo "err $i" >&2; i=$((i + 1)); done
            printf 'id=%s weird=%s args=[%s][%s]\n' "$TESTDISPATCH_RUN_ID" "$WEIRD" "$1" "$2"
            setsid sleep {sleep} &
            exit 7
            """);

        BufferedCommandResult wrapper = await Wrapper(shell, RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(2), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId, ["WEIRD"] = "a'b\"c $(touch PWNED) \\n" },
            ["./run.sh", "arg with space", "-n"])).ExecuteBufferedAsync();

        string[] log = File.ReadAllLines(Path.Combine(dir, "output.log"));
        Assert.True(wrapper.ExitCode == 0, wrapper.StandardError + string.Join('\n', log));
        Assert.Equal([.. Enumerable.Range(0, 50).SelectMany(i => new[] { $"out {i}", $"err {i}" })], log[..100]);
        Assert.Equal($"id={RunId} weird=a'b\"c $(touch PWNED) \\n args=[arg with space][-n]", log[100]);
        Assert.Equal("7", Line(dir, "exit")?.Split(' ')[0]);
        Assert.Equal(3, Line(dir, "pgid")?.Split(' ').Length);
        Assert.True(File.Exists(Path.Combine(dir, "done")) && Line(dir, "stopped") is "" or null && File.Exists(Path.Combine(dir, "stopped")));
        Assert.Null(Line(dir, "stop"));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
        Assert.Empty(Directory.EnumerateFiles(_temp.Path, "PWNED", SearchOption.AllDirectories));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_process_that_escapes_with_env_i_setsid_but_keeps_the_output_is_named_and_stopped_and_the_run_ends(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"""
            env -i "$(command -v setsid)" "$(command -v sh)" -c ': >"$1"; exec "$2" {sleep}' sh "$PWD/escaped" "$(command -v sleep)" &
            while [ ! -e escaped ]; do sleep 0.05; done # a daemon that has left by the time the test ends
            echo started
            exit 0
            """);

        BufferedCommandResult wrapper = await Wrapper(shell, RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"]))
            .ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);

        string log = File.ReadAllText(Path.Combine(dir, "output.log"));
        Assert.True(wrapper.ExitCode == 0, wrapper.StandardError + log);
        Assert.Equal("0", Line(dir, "exit")?.Split(' ')[0]);
        Assert.True(File.Exists(Path.Combine(dir, "done")));
        Assert.StartsWith("started\n", log, StringComparison.Ordinal);
        Assert.Matches(@"\ntestdispatch: processes left the run's process group, session and environment but kept its output open; they were stopped: \d+ \(sleep\)\n$", log);
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task An_escaped_supervisor_that_restarts_its_worker_on_the_output_cannot_keep_the_run_open(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"""
            env -i "$(command -v setsid)" "$(command -v sh)" -c 'trap : TERM; : >"$1"; while :; do "$0" {sleep}; done' "$(command -v sleep)" "$PWD/escaped" &
            while [ ! -e escaped ]; do sleep 0.05; done
            echo started
            """);

        BufferedCommandResult wrapper = await Wrapper(shell, RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"]))
            .ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);

        Assert.True(wrapper.ExitCode == 0, wrapper.StandardError);
        Assert.True(File.Exists(Path.Combine(dir, "done")));
        Assert.Contains("kept its output open; they were stopped:", File.ReadAllText(Path.Combine(dir, "output.log")), StringComparison.Ordinal);
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    /// <summary>
    /// The test's process records its group just before it makes it (setsid), with the test's environment words exported in
    /// between (many of them widen that instant): a stop then must still stop the test, by its pid.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_stop_in_the_instant_the_test_records_its_group_before_making_it_still_stops_the_test(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Dictionary<string, string> environment = Enumerable.Range(0, 20_000).ToDictionary(i => $"V{i}", _ => "x");
        environment["TESTDISPATCH_RUN_ID"] = RunId;
        string script = Script();
        CommandTask<BufferedCommandResult> running = Wrapper(shell, RunWrapper.RunArguments(script, dir, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, environment, ["sleep", sleep.ToString(System.Globalization.CultureInfo.InvariantCulture)])).ExecuteBufferedAsync();
        string pgid = Path.Combine(dir, "pgid");
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!(File.Exists(pgid) && new FileInfo(pgid).Length > 0) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(1);
        }

        BufferedCommandResult stop = await Wrapper(shell, RunWrapper.StopArguments(script, dir, RunId, TimeSpan.FromSeconds(1), RunWrapper.Cancel))
            .ExecuteBufferedAsync();
        BufferedCommandResult wrapper = await running.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(stop.ExitCode == 0 && wrapper.ExitCode == 0, stop.StandardError + wrapper.StandardError);
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
        Assert.Equal(RunWrapper.Cancel, Line(dir, "stop")?.Split(' ')[0]);
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task Stop_gives_the_test_its_whole_grace_then_kills_what_ignores_SIGTERM(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        string cleaned = _temp.Combine($"cleaned-{shell}");
        Test(dir, $$"""
            sh -c 'trap "sleep 1; echo yes > \"$0\"; exit 0" TERM; while :; do sleep 0.05; done' '{{cleaned}}' &
            sh -c 'trap "" TERM; exec sleep {{sleep}}' &
            wait
            """);
        string script = Script();
        CommandTask<BufferedCommandResult> running = Wrapper(shell, RunWrapper.RunArguments(script, dir, RunId, TimeSpan.FromSeconds(3), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();
        await Eventually.True(() => Line(dir, "pgid") is not null && Processes.WithArgument($"sleep {sleep}").Count > 0, what: "the test to start");

        BufferedCommandResult stop = await Wrapper(shell, RunWrapper.StopArguments(script, dir, RunId, TimeSpan.FromSeconds(3), RunWrapper.Cancel))
            .ExecuteBufferedAsync();
        BufferedCommandResult wrapper = await running.Task.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(stop.ExitCode == 0 && wrapper.ExitCode == 0, stop.StandardError + wrapper.StandardError);
        Assert.Equal("yes", File.ReadAllText(cleaned).Trim());
        Assert.Equal(RunWrapper.Cancel, Line(dir, "stop")?.Split(' ')[0]);
        Assert.NotNull(Line(dir, "exit"));
        Assert.True(File.Exists(Path.Combine(dir, "done")));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task The_wrapper_stops_its_test_at_the_time_limit_by_itself(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"sleep {sleep} &\nwait");

        BufferedCommandResult wrapper = await Wrapper(shell, RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1),
            TimeSpan.FromMilliseconds(1500), LogBytes, LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"]))
            .ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);

        Assert.True(wrapper.ExitCode == 0, wrapper.StandardError);
        string[] stop = Line(dir, "stop")!.Split(' ');
        string[] started = Line(dir, "pgid")!.Split(' ');
        Assert.Equal(RunWrapper.Timeout, stop[0]);
        Assert.True(double.Parse(stop[1], System.Globalization.CultureInfo.InvariantCulture) - double.Parse(started[2], System.Globalization.CultureInfo.InvariantCulture) >= 1.5,
            "stopped before its limit");
        Assert.NotNull(Line(dir, "exit"));
        Assert.True(File.Exists(Path.Combine(dir, "done")));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_test_that_ends_inside_its_limit_leaves_no_watchdog_behind(string shell)
    {
        string dir = RunDir(shell);
        Test(dir, "exit 0");

        BufferedCommandResult wrapper = await Wrapper(shell, RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1),
            TimeSpan.FromMilliseconds(7_777), LogBytes, LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"]))
            .ExecuteBufferedAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);

        Assert.True(wrapper.ExitCode == 0, wrapper.StandardError);
        Assert.Null(Line(dir, "stop"));
        Assert.Equal("0", Line(dir, "exit")?.Split(' ')[0]);
        await Eventually.True(() => Processes.WithArgument("sleep 7.777").Count == 0, TimeSpan.FromSeconds(5), "the watchdog's sleep to go");
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task The_log_keeps_the_head_and_the_tail_of_an_output_past_its_limit_and_says_what_was_cut(string shell)
    {
        string dir = RunDir(shell);
        Test(dir, "seq 1 300000");
        long bytes = 256 << 10;

        BufferedCommandResult wrapper = await Wrapper(shell, RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), Limit, bytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();

        byte[] whole = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(1, 300000).Select(i => $"{i}\n")));
        byte[] log = File.ReadAllBytes(Path.Combine(dir, "output.log"));
        long tail = bytes / 10;
        long head = (bytes - tail) / 512 * 512; // ulimit -f counts 512-byte blocks
        string marker = $"\ntestdispatch: the test's output passed its limit of {bytes} bytes: it was cut after its first {head} bytes; its last {tail} bytes follow\n";
        Assert.True(wrapper.ExitCode == 0, wrapper.StandardError);
        Assert.Equal(whole[..(int)head], log[..(int)head]);
        Assert.Equal(marker, System.Text.Encoding.ASCII.GetString(log[(int)head..(int)(head + marker.Length)]));
        Assert.Equal(whole[^(int)tail..], log[(int)(head + marker.Length)..]);
        Assert.Equal(RunWrapper.LogCut, Line(dir, "cut"));
        Assert.Equal("0", Line(dir, "exit")?.Split(' ')[0]);
    }

    [Fact]
    public async Task A_second_wrapper_for_the_same_run_leaves_without_running_the_test()
    {
        string dir = RunDir("dash");
        string counter = _temp.Combine("runs");
        Test(dir, $"echo ran >> '{counter}'");
        string script = Script();
        IReadOnlyList<string> arguments = RunWrapper.RunArguments(script, dir, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"]);

        await Wrapper("dash", arguments).ExecuteBufferedAsync();
        BufferedCommandResult second = await Wrapper("dash", arguments).ExecuteBufferedAsync();

        Assert.Equal(0, second.ExitCode);
        Assert.Equal(["ran"], File.ReadAllLines(counter));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_stop_whose_claimer_was_killed_is_taken_over_at_once_not_after_the_grace_and_ten_seconds(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"exec sleep {sleep}");
        string script = Script();
        // A minute's grace: the old wait for a dead claimer (grace + 10 s) is far past the deadline below.
        TimeSpan grace = TimeSpan.FromMinutes(1);
        CommandTask<BufferedCommandResult> running = Wrapper(shell, RunWrapper.RunArguments(script, dir, RunId, grace, Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();
        await Eventually.True(() => Line(dir, "pgid") is not null && Processes.WithArgument($"sleep {sleep}").Count > 0, what: "the test to start");
        // What a stop SIGKILLed after its claim leaves: the claim, with the pid of a process that is gone.
        BufferedCommandResult gone = await Cli.Wrap("sh").WithArguments(["-c", "echo $$"]).ExecuteBufferedAsync();
        File.WriteAllText(Path.Combine(dir, "stopping"), gone.StandardOutput);

        BufferedCommandResult stop = await Wrapper(shell, RunWrapper.StopArguments(script, dir, RunId, grace, RunWrapper.Cancel))
            .ExecuteBufferedAsync().Task.WaitAsync(TimeSpan.FromSeconds(30));
        BufferedCommandResult wrapper = await running.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(stop.ExitCode == 0 && wrapper.ExitCode == 0, stop.StandardError + wrapper.StandardError);
        Assert.Equal(RunWrapper.Cancel, Line(dir, "stop")?.Split(' ')[0]);
        Assert.True(File.Exists(Path.Combine(dir, "done")));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    /// <summary>
    /// A stop SIGKILLed between making its claim and writing its pid left an empty claim, which every later stop waited
    /// for until the grace and ten seconds had passed (issue 30, item 5). An empty claim is taken over after 2 s.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_stop_finding_an_empty_claim_takes_it_over_not_after_the_grace_and_ten_seconds(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"exec sleep {sleep}");
        string script = Script();
        TimeSpan grace = TimeSpan.FromMinutes(1);
        CommandTask<BufferedCommandResult> running = Wrapper(shell, RunWrapper.RunArguments(script, dir, RunId, grace, Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();
        await Eventually.True(() => Line(dir, "pgid") is not null && Processes.WithArgument($"sleep {sleep}").Count > 0, what: "the test to start");
        File.WriteAllText(Path.Combine(dir, "stopping"), "");

        BufferedCommandResult stop = await Wrapper(shell, RunWrapper.StopArguments(script, dir, RunId, grace, RunWrapper.Cancel))
            .ExecuteBufferedAsync().Task.WaitAsync(TimeSpan.FromSeconds(30));
        BufferedCommandResult wrapper = await running.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(stop.ExitCode == 0 && wrapper.ExitCode == 0, stop.StandardError + wrapper.StandardError);
        Assert.Equal(RunWrapper.Cancel, Line(dir, "stop")?.Split(' ')[0]);
        Assert.True(File.Exists(Path.Combine(dir, "stopping.empty")));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_stop_taken_over_counts_the_grace_from_the_first_SIGTERM_not_from_the_takeover(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"trap '' TERM; exec sleep {sleep}"); // ignores SIGTERM: only the end of the grace ends it
        string script = Script();
        TimeSpan grace = TimeSpan.FromMinutes(1);
        CommandTask<BufferedCommandResult> running = Wrapper(shell, RunWrapper.RunArguments(script, dir, RunId, grace, Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();
        await Eventually.True(() => Line(dir, "pgid") is not null && Processes.WithArgument($"sleep {sleep}").Count > 0, what: "the test to start");
        // What a stop SIGKILLed two minutes into its grace leaves (its agent handed over, say): its record of the first
        // SIGTERM, and its claim, with the pid of a process that is gone.
        double uptime = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        File.WriteAllText(Path.Combine(dir, "stop"), string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{RunWrapper.Cancel} {uptime - 120:0.00}\n"));
        BufferedCommandResult gone = await Cli.Wrap("sh").WithArguments(["-c", "echo $$"]).ExecuteBufferedAsync();
        File.WriteAllText(Path.Combine(dir, "stopping"), gone.StandardOutput);

        // The grace ran out long ago: the takeover kills at once, where it used to give the test another minute.
        BufferedCommandResult stop = await Wrapper(shell, RunWrapper.StopArguments(script, dir, RunId, grace, RunWrapper.Cancel))
            .ExecuteBufferedAsync().Task.WaitAsync(TimeSpan.FromSeconds(30));
        BufferedCommandResult wrapper = await running.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(stop.ExitCode == 0 && wrapper.ExitCode == 0, stop.StandardError + wrapper.StandardError);
        Assert.Equal(RunWrapper.Cancel, Line(dir, "stop")?.Split(' ')[0]);
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task Two_stops_that_find_a_dead_claimer_take_over_its_claim_one_of_them_only(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"exec sleep {sleep}");
        string script = Script();
        TimeSpan grace = TimeSpan.FromMinutes(1);
        // Both stops see the dead claim before either takes it over; the interleaving is pinned by shims on PATH: an mv
        // onto 'stopping' waits for the other stop to reach it too, and the second waits until the first is stopping
        // the run. grep logs which stop looked for the run's processes: only the one that has the claim does.
        string sync = _temp.Combine($"sync-{shell}");
        Directory.CreateDirectory(sync);
        string shims = _temp.Combine($"shims-{shell}");
        Directory.CreateDirectory(shims);
        string real(string tool) => shell == "busybox" ? $"{Which("busybox")} {tool}" : Which(tool);
        Shim(shims, "grep", $"""
            case "$*" in *TESTDISPATCH_RUN_ID=*) [ -n "$STOPPER" ] && echo "$STOPPER" >>'{sync}/stoppers' ;; esac
            exec {real("grep")} "$@"
            """);
        Shim(shims, "mv", $$"""
            case "$3" in */stopping) ;; *) exec {{real("mv")}} "$@" ;; esac
            a1=$1 a2=$2 a3=$3
            : >'{{sync}}/at-mv.'$$
            n=0
            while set -- '{{sync}}'/at-mv.*; [ $# -lt 2 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
            set -C
            if ! { true >'{{sync}}/first'; } 2>/dev/null; then
                n=0
                while [ ! -s '{{sync}}/stoppers' ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
            fi
            exec {{real("mv")}} "$a1" "$a2" "$a3"
            """);
        CommandTask<BufferedCommandResult> running = Wrapper(shell, RunWrapper.RunArguments(script, dir, RunId, grace, Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();
        await Eventually.True(() => Line(dir, "pgid") is not null && Processes.WithArgument($"sleep {sleep}").Count > 0, what: "the test to start");
        BufferedCommandResult gone = await Cli.Wrap("sh").WithArguments(["-c", "echo $$"]).ExecuteBufferedAsync();
        File.WriteAllText(Path.Combine(dir, "stopping"), gone.StandardOutput);

        Task<BufferedCommandResult>[] stops = [.. new[] { "1", "2" }.Select(n => Wrapper(shell, RunWrapper.StopArguments(script, dir, RunId, grace, RunWrapper.Cancel))
            .WithEnvironmentVariables(e => e.Set("PATH", $"{shims}:{Machine(shell).Path}").Set("STOPPER", n)).ExecuteBufferedAsync().Task)];
        BufferedCommandResult[] stopped = await Task.WhenAll(stops).WaitAsync(TimeSpan.FromSeconds(60));
        BufferedCommandResult wrapper = await running.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(stopped.All(s => s.ExitCode == 0) && wrapper.ExitCode == 0, string.Concat(stopped.Select(s => s.StandardError)) + wrapper.StandardError);
        Assert.Single(File.ReadAllLines(Path.Combine(sync, "stoppers")).Distinct());
        Assert.True(File.Exists(Path.Combine(dir, "done")));
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_stop_whose_killed_claimer_s_pid_went_to_a_stranger_is_taken_over_not_waited_for(string shell)
    {
        Assert.True(Environment.UserName == "root", "this test places a process at a chosen pid (/proc/sys/kernel/ns_last_pid), which needs root");
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        // The test outlives SIGTERM until 'release' is there: the first stop stays in its grace until it is killed.
        Test(dir, $"trap '[ -f ../release ] && exit 0' TERM\nwhile :; do sleep 0.1; done");
        string script = Script();
        // Ten minutes' grace: a wait for the claimer (grace + 10 s) is far past the deadline below.
        TimeSpan grace = TimeSpan.FromMinutes(10);
        CommandTask<BufferedCommandResult> running = Wrapper(shell, RunWrapper.RunArguments(script, dir, RunId, grace, Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();
        await Eventually.True(() => Line(dir, "pgid") is not null, what: "the test to start");
        CommandTask<BufferedCommandResult> first = Wrapper(shell, RunWrapper.StopArguments(script, dir, RunId, grace, RunWrapper.Cancel)).ExecuteBufferedAsync();
        string claim = await Eventually.Get(() => Line(dir, "stop") is not null && File.ReadAllText(Path.Combine(dir, "stopping")) is [.., '\n'] whole
            ? whole : null, what: "the first stop to claim the run");
        int claimer = int.Parse(claim.Split(' ', '\n')[0], System.Globalization.CultureInfo.InvariantCulture);
        System.Diagnostics.Process.GetProcessById(claimer).Kill();
        await first.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // Its number is free once its group is empty (its last 'sleep 0.1' ends).
        await Eventually.True(() => !Processes.InGroup(claimer), what: "the killed stop's process group to empty");
        using StrangerAt stranger = await StrangerAt.StartAsync(claimer);
        File.WriteAllText(Path.Combine(dir, "release"), "");

        BufferedCommandResult stop = await Wrapper(shell, RunWrapper.StopArguments(script, dir, RunId, grace, RunWrapper.Cancel))
            .ExecuteBufferedAsync().Task.WaitAsync(TimeSpan.FromSeconds(60));
        BufferedCommandResult wrapper = await running.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(stop.ExitCode == 0 && wrapper.ExitCode == 0, stop.StandardError + wrapper.StandardError);
        Assert.True(File.Exists(Path.Combine(dir, "done")));
        Assert.True(stranger.Alive, $"the stranger at pid {claimer} was left alone");
    }

    /// <summary>Whether a process other than the caller could take the lock now (flock -n on a descriptor of its own).</summary>
    private static bool LockIsFree(string lockFile)
    {
        using System.Diagnostics.Process flock = System.Diagnostics.Process.Start("flock", ["-n", lockFile, "true"]);
        flock.WaitForExit();
        return flock.ExitCode == 0;
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_second_run_on_a_held_machine_does_not_start_its_test_and_names_the_holder(string shell)
    {
        string first = RunDir(shell);
        Test(first, "while [ ! -f ../../release ]; do sleep 0.05; done");
        string second = _temp.Combine("second");
        Directory.CreateDirectory(Path.Combine(second, "work"));
        string ran = _temp.Combine("second-ran");
        Test(second, $"echo ran > '{ran}'");
        const string holder = """{"user":"alice","host":"ctl-1","run_id":"first"}""";
        CommandTask<BufferedCommandResult> holding = Wrapper(shell, RunWrapper.RunArguments(Script(), first, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();
        await Eventually.True(() => Line(first, "pgid") is not null, what: "the first test to start");

        BufferedCommandResult refused = await Wrapper(shell, RunWrapper.RunArguments(Script(), second, RunIds.New(), TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string>(), ["./run.sh"])).ExecuteBufferedAsync();

        Assert.True(refused.ExitCode == 0, refused.StandardError);
        Assert.Equal(holder, Line(second, "held"));
        Assert.True(File.Exists(Path.Combine(second, "done")));
        Assert.Null(Line(second, "pgid"));
        Assert.Null(Line(second, "exit"));
        Assert.False(File.Exists(ran), "the second test ran while the machine was held");
        // Read by head, as people read it: .NET's own open takes a shared flock of its own, which a held lock refuses.
        Assert.Equal(holder + "\n", (await Cli.Wrap("head").WithArguments(["-n", "1", LockFile]).ExecuteBufferedAsync()).StandardOutput);

        File.WriteAllText(_temp.Combine("release"), "");
        await holding.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(LockIsFree(LockFile), "the lock outlived its wrapper");
        Assert.Equal("0", Line(first, "exit")?.Split(' ')[0]);
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task A_symlink_planted_at_the_lock_path_is_refused_and_nothing_is_written_through_it(string shell)
    {
        string dir = RunDir(shell);
        string ran = _temp.Combine("ran");
        Test(dir, $"echo ran > '{ran}'");
        string precious = _temp.Combine("precious");
        File.WriteAllText(precious, "keep me\n");
        Directory.CreateDirectory(Path.GetDirectoryName(LockFile)!);
        File.CreateSymbolicLink(LockFile, precious);

        BufferedCommandResult wrapper = await Wrapper(shell, RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string>(), ["./run.sh"])).ExecuteBufferedAsync();

        Assert.True(wrapper.ExitCode == 0, wrapper.StandardError);
        Assert.Contains("is a symlink", Line(dir, "nolock"));
        Assert.False(File.Exists(ran), "the test ran unprotected");
        Assert.Equal("keep me\n", File.ReadAllText(precious));
        Assert.Contains("lock cannot be had", File.ReadAllText(Path.Combine(dir, "output.log")));
    }

    [Fact]
    public async Task A_machine_without_flock_runs_nothing_unprotected_and_says_why()
    {
        string dir = RunDir("busybox");
        string ran = _temp.Combine("ran");
        Test(dir, $"echo ran > '{ran}'");
        (string sh, string path) = Machine("busybox");
        File.Delete(Path.Combine(path, "flock"));

        BufferedCommandResult wrapper = await Cli.Wrap("setsid").WithArguments([sh, .. RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), Limit,
            LogBytes, LockFile, Holder, new Dictionary<string, string>(), ["./run.sh"])])
            .WithEnvironmentVariables(e => e.Set("PATH", path)).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();

        Assert.True(wrapper.ExitCode == 0, wrapper.StandardError);
        Assert.Contains("flock (util-linux) is not installed", Line(dir, "nolock"));
        Assert.False(File.Exists(ran), "the test ran unprotected");
        Assert.True(File.Exists(Path.Combine(dir, "done")));
    }

    [Fact]
    public async Task A_lock_directory_others_may_write_without_its_sticky_bit_or_another_users_is_refused()
    {
        Assert.True(Environment.UserName == "root", "this test gives a directory to another user, which needs root");
        string dir = RunDir("dash");
        Test(dir, "exit 0");
        string locks = Path.GetDirectoryName(LockFile)!;
        Directory.CreateDirectory(locks);
        File.SetUnixFileMode(locks, (UnixFileMode)0b111_111_111);

        await Wrapper("dash", RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string>(), ["./run.sh"])).ExecuteBufferedAsync();
        string? open = Line(dir, "nolock");
        foreach (string name in RunWrapper.ControlFiles)
        {
            File.Delete(Path.Combine(dir, name));
        }
        File.SetUnixFileMode(locks, (UnixFileMode)0b1_111_111_111);
        await Cli.Wrap("chown").WithArguments(["nobody", locks]).ExecuteAsync();
        await Wrapper("dash", RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string>(), ["./run.sh"])).ExecuteBufferedAsync();

        Assert.Contains("not sticky", open);
        Assert.Contains("belongs to user", Line(dir, "nolock"));
        Assert.Null(Line(dir, "pgid"));
    }

    [Theory]
    [MemberData(nameof(Shells))]
    public async Task The_lock_is_the_wrappers_alone_so_its_death_frees_the_machine_though_the_tests_processes_live(string shell)
    {
        int sleep = Random.Shared.Next(100_000, 999_999);
        string dir = RunDir(shell);
        Test(dir, $"sleep {sleep} &\nsetsid sleep {sleep + 1} &\nwait");
        CommandTask<BufferedCommandResult> running = Wrapper(shell, RunWrapper.RunArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), Limit, LogBytes,
            LockFile, Holder, new Dictionary<string, string> { ["TESTDISPATCH_RUN_ID"] = RunId }, ["./run.sh"])).ExecuteBufferedAsync();
        await Eventually.True(() => Processes.WithArgument($"sleep {sleep + 1}").Count > 0, what: "the test and its child to start");
        Assert.False(LockIsFree(LockFile), "the wrapper does not hold the machine's lock");

        System.Diagnostics.Process.GetProcessById(running.ProcessId).Kill();

        await Eventually.True(() => LockIsFree(LockFile), TimeSpan.FromSeconds(10), "the lock to be free once the wrapper is killed");
        Assert.NotEmpty(Processes.WithArgument($"sleep {sleep}"));
        Assert.NotEmpty(Processes.WithArgument($"sleep {sleep + 1}"));
        await Wrapper(shell, RunWrapper.StopArguments(Script(), dir, RunId, TimeSpan.FromSeconds(1), RunWrapper.Cleanup)).ExecuteBufferedAsync();
        Assert.Empty(Processes.WithArgument($"sleep {sleep}"));
    }

    private static void Shim(string bin, string tool, string body)
    {
        string path = Path.Combine(bin, tool);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }
}
