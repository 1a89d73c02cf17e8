using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Transports.Ssh;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Transports;

/// <summary>
/// The ssh transport against a real sshd on 127.0.0.1 (docs/DESIGN.md §7, docs/SSH.md), through the real CLI and a real agent: the
/// "remote" is this host, reached only over ssh, so what is left of a run there can be checked in its work root and /proc.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SshTransportTests : IDisposable
{
    private readonly SshServer _sshd = new();
    private readonly CliHarness _cli;

    public SshTransportTests()
    {
        _cli = new CliHarness(machinesJson: $"[ {_sshd.Machine("rig")} ]");
    }

    public void Dispose()
    {
        _cli.Dispose();
        _sshd.Dispose();
    }

    private async Task<Run> RunAsync(params string[] args)
    {
        (int exit, string output, string error) = await _cli.Run(["run", "--json", .. args]);
        CliHarness.AssertNoStackTrace(error);
        Assert.True(output.Length > 0, $"run printed nothing (exit {exit}): {error}");
        return _cli.OpenLab().Store.Get(System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("id").GetString()!).Run;
    }

    private async Task<Run> EndedAsync(string id) => await _cli.OpenLab().WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(60));

    /// <summary>Processes of a run anywhere on this host (the remote is this host): by the run id in their environment.</summary>
    internal static IReadOnlyList<int> ProcessesOf(string runId) => [.. Directory.EnumerateDirectories("/proc")
        .Where(d => int.TryParse(Path.GetFileName(d), out _))
        .Where(d =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(d, "environ")).Split('\0').Contains($"TESTDISPATCH_RUN_ID={runId}") &&
                    !File.ReadAllText(Path.Combine(d, "stat")).Split(") ")[1].StartsWith('Z');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        })
        .Select(d => int.Parse(Path.GetFileName(d), System.Globalization.CultureInfo.InvariantCulture))];

    [Fact]
    public async Task A_test_that_prints_nothing_over_ssh_has_an_empty_log_like_a_local_one_not_a_missing_one()
    {
        string silent = _cli.MakeTest("silent", "exit 0");

        (int exit, string output, string error) = await _cli.Run("run", silent, "--machine", "rig", "--wait", "--json");
        string log = System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("logs_path").GetString()!;
        (int grepped, _, string grepError) = await _cli.Run("grep", "anything");

        Assert.True(exit == 0, error);
        Assert.True(File.Exists(log), $"{log} is missing: 'logs', 'grep' and 'diff' would call the log gone");
        Assert.Equal(0, new FileInfo(log).Length);
        Assert.Equal((1, ""), (grepped, grepError));
    }

    [Fact]
    public async Task A_passing_and_a_failing_test_run_over_ssh_with_their_whole_log_in_order_and_no_remote_tree_left()
    {
        string pass = _cli.MakeTest("pass", "i=0; while [ $i -lt 50 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done\necho \"on $TESTDISPATCH_MACHINE as $TESTDISPATCH_RUN_ID\"");
        string fail = _cli.MakeTest("fail", "echo failing; exit 3");

        (int passExit, string passOut, string passErr) = await _cli.Run("run", pass, "--machine", "rig", "--wait");
        (int failExit, _, _) = await _cli.Run("run", fail, "--machine", "rig", "--wait");

        Assert.True(passExit == 0, passErr);
        Assert.Equal(ExitCodes.TestFailed, failExit);
        IReadOnlyList<RunRecord> runs = _cli.OpenLab().Store.List();
        Run passed = runs.Single(r => r.Run.TestDir == pass).Run;
        Run failed = runs.Single(r => r.Run.TestDir == fail).Run;
        Assert.Equal((RunStatus.Completed, 0), (passed.Status, passed.ExitCode));
        Assert.Equal((RunStatus.Failed, 3, ""), (failed.Status, failed.ExitCode, failed.ErrorCode));
        string expected = string.Concat(Enumerable.Range(0, 50).Select(i => $"out {i}\nerr {i}\n")) + $"on rig as {passed.Id}\n";
        Assert.Equal(expected, await File.ReadAllTextAsync(passed.LogsPath));
        Assert.Equal("failing\n", await File.ReadAllTextAsync(failed.LogsPath));
        Assert.Contains(passed.Id, passOut, StringComparison.Ordinal);
        await Eventually.True(() => _sshd.Leftovers().Count == 0, what: "the remote run dirs to be removed");
    }

    [Fact]
    public async Task Artifacts_come_back_and_a_symlink_leading_out_of_them_is_dropped_and_the_log_says_so()
    {
        string test = _cli.MakeTest("art", """
            mkdir -p "$TESTDISPATCH_ARTIFACTS/sub"
            echo report > "$TESTDISPATCH_ARTIFACTS/sub/report.txt"
            ln -s sub/report.txt "$TESTDISPATCH_ARTIFACTS/inside"
            ln -s /etc/hostname "$TESTDISPATCH_ARTIFACTS/absolute"
            ln -s ../../../outside "$TESTDISPATCH_ARTIFACTS/escaping"
            """);

        Run run = await RunAsync(test, "--machine", "rig", "--wait");

        Assert.Equal(RunStatus.Completed, run.Status);
        Assert.Equal("report\n", await File.ReadAllTextAsync(Path.Combine(run.ArtifactsPath, "sub", "report.txt")));
        Assert.Equal("sub/report.txt", new FileInfo(Path.Combine(run.ArtifactsPath, "inside")).LinkTarget);
        Assert.False(Path.Exists(Path.Combine(run.ArtifactsPath, "absolute")) || File.Exists(Path.Combine(run.ArtifactsPath, "absolute")));
        Assert.Null(new FileInfo(Path.Combine(run.ArtifactsPath, "escaping")).LinkTarget);
        Assert.Contains("testdispatch: 2 symbolic links in the artifacts pointed outside them", await File.ReadAllTextAsync(run.LogsPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timeout_and_cancel_stop_the_remote_test_and_what_escaped_its_group_and_leave_nothing()
    {
        string test = _cli.MakeTest("hangs", "setsid sleep 300 &\nnohup sleep 301 >/dev/null 2>&1 &\necho started\nsleep 300");

        Run timedOut = await RunAsync(test, "--machine", "rig", "--timeout", "2s", "--wait");
        Run dispatched = await RunAsync(test, "--machine", "rig", "--timeout", "5m");
        await Eventually.True(() => File.Exists(dispatched.LogsPath) && File.ReadAllText(dispatched.LogsPath).Contains("started", StringComparison.Ordinal),
            what: "the second test to start");
        (int cancelExit, _, string cancelError) = await _cli.Run("cancel", dispatched.Id);
        Run cancelled = await EndedAsync(dispatched.Id);

        Assert.Equal((RunStatus.Timeout, ErrorCodes.Timeout), (timedOut.Status, timedOut.ErrorCode));
        Assert.True(cancelExit == 0, cancelError);
        Assert.Equal(RunStatus.Interrupted, cancelled.Status);
        Assert.Empty(ProcessesOf(timedOut.Id));
        Assert.Empty(ProcessesOf(cancelled.Id));
        await Eventually.True(() => _sshd.Leftovers().Count == 0, what: "the remote run dirs to be removed");
    }

    [Fact]
    public async Task Hostile_names_in_the_test_dir_and_the_arguments_reach_the_test_as_they_are()
    {
        string[] words = ["a b", "it's", "\"q\"", "$(touch /tmp/td-injected)", "`id`", "x;echo INJECTED", "*", "line\nbreak", "-n", "é ü", "\\", "", "~"];
        string dir = _cli.Combine("tests", "dir with 'quotes' $(x) ; * é -n");
        Directory.CreateDirectory(dir);
        string script = Path.Combine(dir, "run.sh");
        await File.WriteAllTextAsync(script, "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n");
        File.SetUnixFileMode(script, (UnixFileMode)0b111_000_000);

        // The first launch on a connection goes step by step (rsync); later ones of a small test dir in one script.
        foreach (int _ in new[] { 1, 2 })
        {
            Run run = await RunAsync([dir, "--machine", "rig", "--wait", "--", "./run.sh", .. words]);

            Assert.Equal(RunStatus.Completed, run.Status);
            Assert.Equal(string.Concat(words.Select(w => $"[{w}]\n")), await File.ReadAllTextAsync(run.LogsPath));
        }
        Assert.False(File.Exists("/tmp/td-injected"));
    }

    [Fact]
    public async Task An_unreachable_port_fails_the_run_as_transport_unreachable_with_what_ssh_said()
    {
        using SshServer closed = new();
        string machine = closed.Machine("down", port: 1);
        using CliHarness cli = new(machinesJson: $"[ {machine} ]");
        string test = cli.MakeTest("t", "true");

        (int exit, string output, string error) = await cli.Run("run", test, "--machine", "down", "--wait", "--json");
        Run run = cli.OpenLab().Store.List().Single().Run;

        Assert.Equal(ExitCodes.Infrastructure, exit);
        CliHarness.AssertNoStackTrace(error);
        Assert.Equal((RunStatus.Failed, ErrorCodes.TransportUnreachable), (run.Status, run.ErrorCode));
        Assert.Contains("Connection refused", run.ErrorMsg, StringComparison.Ordinal);
        Assert.Contains("down", run.ErrorMsg, StringComparison.Ordinal);
        Assert.Contains(run.Id, output, StringComparison.Ordinal);
        (_, string machines, _) = await cli.Run("machines");
        Assert.Matches(@"(?m)^down +ssh .* unreachable ", machines);
        Assert.Contains("down: unreachable since ", machines, StringComparison.Ordinal);
        Assert.Contains("Connection refused", machines, StringComparison.Ordinal);
        (int doctorExit, string doctor, _) = await cli.Run("doctor");
        Assert.Equal(ExitCodes.Infrastructure, doctorExit);
        Assert.Matches(@"(?m)^FAIL +down +connect: .*Connection refused; is sshd running there", doctor);
    }

    [Fact]
    public async Task Doctor_checks_each_ssh_machine_step_by_step()
    {
        (int exit, string doctor, string error) = await _cli.Run("doctor");

        Assert.True(exit == 0, doctor + error);
        Assert.Matches(@"(?m)^ok +rig +control socket .*cm/[0-9a-f]{16} \(\d+ bytes of at most 90\)", doctor);
        Assert.Matches(@"(?m)^ok +rig +connect and log in: \S+@127\.0\.0\.1:\d+, remote /bin/sh answers", doctor);
        Assert.Matches(@"(?m)^ok +rig +copy: rsync", doctor);
        Assert.Matches($@"(?m)^ok +rig +work root: {System.Text.RegularExpressions.Regex.Escape(_sshd.WorkRoot)} is writable", doctor);
    }

    [Fact]
    public async Task Several_runs_share_one_master_connection_one_login_in_sshds_log()
    {
        string test = _cli.MakeTest("quick", "echo hi");

        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(RunStatus.Completed, (await RunAsync(test, "--machine", "rig", "--wait")).Status);
        }

        Assert.Equal(1, _sshd.Logins());
    }

    [Fact]
    public async Task The_master_killed_mid_run_costs_a_reconnect_never_the_run_or_a_line_of_its_log()
    {
        string release = _cli.Combine("release");
        string test = _cli.MakeTest("long", $"i=0; while [ ! -e '{release}' ]; do echo tick $i; i=$((i+1)); sleep 0.1; done\necho done");
        Run run = await RunAsync(test, "--machine", "rig");
        await Eventually.True(() => File.Exists(run.LogsPath) && File.ReadAllText(run.LogsPath).Contains("tick 5", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the test to tick"); // a first login and launch over ssh took over 20 s on a loaded CI host

        string socket = SshEndpoint.ControlPathFor(_cli.OpenLab().Config.Machines[0], _cli.StateDir);
        IReadOnlyList<int> masters = Processes.WithArgument("ControlPath=" + socket).Where(p =>
            File.ReadAllText($"/proc/{p}/cmdline").Split('\0').Contains("-M")).ToList();
        Assert.NotEmpty(masters);
        foreach (int master in masters)
        {
            SshServer.Kill(master, "-KILL");
        }
        await Task.Delay(1000);
        await File.WriteAllTextAsync(release, "");
        Run ended = await EndedAsync(run.Id);

        Assert.Equal(RunStatus.Completed, ended.Status);
        string[] lines = (await File.ReadAllTextAsync(ended.LogsPath)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("done", lines[^1]);
        Assert.Equal(Enumerable.Range(0, lines.Length - 1).Select(i => $"tick {i}"), lines[..^1]);
        Assert.True(_sshd.Logins() >= 2, "a new master logged in");
    }

    [Fact]
    public async Task A_server_that_stops_answering_past_the_keepalives_costs_a_reconnect_never_the_run()
    {
        using SshServer sshd = new();
        using CliHarness cli = new(machinesJson:
            $"[ {sshd.Machine("rig", extraOptions: ", \"-o\", \"ServerAliveInterval=1\", \"-o\", \"ServerAliveCountMax=2\"")} ]");
        string release = cli.Combine("release");
        string test = cli.MakeTest("long", $"echo first\nwhile [ ! -e '{release}' ]; do sleep 0.1; done\necho second");
        (_, string id, _) = await cli.Run("run", test, "--machine", "rig");
        id = id.Trim();
        Lab lab = cli.OpenLab();
        await Eventually.True(() => File.Exists(lab.Store.Get(id).Run.LogsPath) && File.ReadAllText(lab.Store.Get(id).Run.LogsPath).Contains("first", StringComparison.Ordinal),
            what: "the test to start");

        IReadOnlyList<int> hung = sshd.Sessions();
        foreach (int session in hung)
        {
            SshServer.Kill(session, "-STOP");
        }
        await Task.Delay(TimeSpan.FromSeconds(5)); // past 2 keep-alives of 1 s
        await File.WriteAllTextAsync(release, "");
        Run ended = await lab.WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(60));
        foreach (int session in hung)
        {
            SshServer.Kill(session, "-CONT");
        }

        Assert.NotEmpty(hung);
        Assert.Equal(RunStatus.Completed, ended.Status);
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
    }

    [Fact]
    public async Task An_agent_killed_mid_remote_run_is_replaced_and_the_next_one_completes_the_run_once()
    {
        string release = _cli.Combine("release");
        string test = _cli.MakeTest("adopted", $"echo first\nwhile [ ! -e '{release}' ]; do sleep 0.1; done\necho second\nexit 4");
        Run run = await RunAsync(test, "--machine", "rig");
        Lab lab = _cli.OpenLab();
        RunRecord running = await Eventually.Get(() => lab.Store.Get(run.Id) is { Process.ProcessGroupId: > 0 } r ? r : null, what: "the test to start");

        System.Diagnostics.Process.GetProcessById(running.Process!.AgentPid).Kill();
        await Eventually.True(() => lab.Locks.TryAcquire(lab.Store.Paths.AgentLock) is { } free && Release(free), what: "the agent to be gone");
        bool alive = ProcessesOf(run.Id).Count > 0;
        await File.WriteAllTextAsync(release, "");
        Run ended = await lab.WaitAsync(run.Id).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(alive, "the remote test outlived the agent");
        Assert.Equal((RunStatus.Failed, 4, ""), (ended.Status, ended.ExitCode, ended.ErrorCode));
        Assert.Equal("first\nsecond\n", await File.ReadAllTextAsync(ended.LogsPath));
        Assert.Contains($"run {run.Id} followed again", await File.ReadAllTextAsync(lab.Store.Paths.AgentLog), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_remote_tree_wiped_under_a_running_test_fails_the_run_as_remote_lost()
    {
        string test = _cli.MakeTest("wiped", "echo first\nsleep 300");
        Run run = await RunAsync(test, "--machine", "rig");
        Lab lab = _cli.OpenLab();
        RunRecord running = await Eventually.Get(() => lab.Store.Get(run.Id) is { Process.ProcessGroupId: > 0 } r ? r : null, what: "the test to start");

        SshServer.Kill(running.Process!.WrapperPid, "-KILL");
        Directory.Delete(running.Process.RunDir, recursive: true);
        Run ended = await EndedAsync(run.Id);

        Assert.Equal((RunStatus.Failed, ErrorCodes.RemoteLost), (ended.Status, ended.ErrorCode));
        Assert.Empty(ProcessesOf(run.Id));
    }

    [Fact]
    public async Task A_batch_spreads_over_several_ssh_machines()
    {
        using SshServer second = new();
        using CliHarness cli = new(machinesJson: $"[ {_sshd.Machine("rig-a")}, {second.Machine("rig-b")} ]");
        cli.MakeTest("t", "sleep 0.5; echo $TESTDISPATCH_MACHINE");
        string plan = cli.Combine("tests", "plan.json");
        await File.WriteAllTextAsync(plan, $$"""
            { "entries": [ {{string.Join(", ", Enumerable.Range(0, 6).Select(i => $$"""{ "name": "e{{i}}", "test_dir": "t", "tags": ["ssh"] }"""))}} ] }
            """);

        (int exit, _, string error) = await cli.Run("batch", "submit", plan, "--wait");
        Lab lab = cli.OpenLab();
        Batch batch = lab.ShowBatch(lab.Batches().Single().Id);

        Assert.True(exit == 0, error);
        Assert.All(batch.Items!, i => Assert.Equal("completed", i.Status));
        Assert.Equal(["rig-a", "rig-b"], batch.Items!.Select(i => i.RanOn).Distinct().Order());
    }

    /// <summary>A PATH of links to this host's programs, rsync left out: an sshd with it plays a machine without rsync.</summary>
    private string PathWithoutRsync()
    {
        string bin = _sshd.Combine("bin-without-rsync");
        Directory.CreateDirectory(bin);
        foreach (string? tool in Directory.EnumerateFiles("/usr/bin").Concat(Directory.EnumerateFiles("/bin")).Select(Path.GetFileName).Distinct()
            .Where(t => t is not "rsync"))
        {
            File.CreateSymbolicLink(Path.Combine(bin, tool!), File.Exists(Path.Combine("/usr/bin", tool!)) ? Path.Combine("/usr/bin", tool!) : Path.Combine("/bin", tool!));
        }
        return bin;
    }

    [Fact]
    public async Task A_machine_without_rsync_gets_the_test_dir_and_gives_artifacts_back_by_tar_over_ssh()
    {
        using SshServer bare = new(path: PathWithoutRsync());
        using CliHarness cli = new(machinesJson: $"[ {bare.Machine("bare")} ]");
        string test = cli.MakeTest("art", """
            command -v rsync || echo "no rsync here"
            cat data.txt
            echo made > "$TESTDISPATCH_ARTIFACTS/made.txt"
            ln -s /etc/passwd "$TESTDISPATCH_ARTIFACTS/leak"
            """);
        await File.WriteAllTextAsync(Path.Combine(test, "data.txt"), "payload\n");

        (int exit, string output, string error) = await cli.Run("run", test, "--machine", "bare", "--wait", "--json");
        Run run = cli.OpenLab().Store.List().Single().Run;

        Assert.True(exit == 0, $"{error} {run.ErrorMsg}");
        Assert.StartsWith("no rsync here\npayload\n", await File.ReadAllTextAsync(run.LogsPath), StringComparison.Ordinal);
        Assert.Equal("made\n", await File.ReadAllTextAsync(Path.Combine(run.ArtifactsPath, "made.txt")));
        Assert.False(File.Exists(Path.Combine(run.ArtifactsPath, "leak")) || new FileInfo(Path.Combine(run.ArtifactsPath, "leak")).LinkTarget is not null);
        Assert.Contains(run.Id, output, StringComparison.Ordinal);
        await Eventually.True(() => bare.Leftovers().Count == 0, what: "the remote run dir to be removed");
    }

    [Fact]
    public async Task Without_rsync_a_large_test_dir_and_many_artifacts_are_streamed_by_tar_byte_for_byte()
    {
        using SshServer bare = new(path: PathWithoutRsync());
        using CliHarness cli = new(machinesJson: $"[ {bare.Machine("bare")} ]");
        string test = cli.MakeTest("big", """
            mkdir -p "$TESTDISPATCH_ARTIFACTS/many/deeper"
            i=0; while [ $i -lt 300 ]; do echo "artifact $i" > "$TESTDISPATCH_ARTIFACTS/many/deeper/$i.txt"; i=$((i+1)); done
            cp input.bin "$TESTDISPATCH_ARTIFACTS/input-again.bin"
            head -c 40000000 /dev/urandom > "$TESTDISPATCH_ARTIFACTS/made.bin"
            sha256sum < "$TESTDISPATCH_ARTIFACTS/made.bin"
            """);
        byte[] input = System.Security.Cryptography.RandomNumberGenerator.GetBytes(8 << 20); // well past the inline launch's 512 KiB
        await File.WriteAllBytesAsync(Path.Combine(test, "input.bin"), input);

        (int exit, _, string error) = await cli.Run("run", test, "--machine", "bare", "--wait", "--json");
        Run run = cli.OpenLab().Store.List().Single().Run;

        Assert.True(exit == 0, $"{error} {run.ErrorMsg}");
        Assert.Equal(input, await File.ReadAllBytesAsync(Path.Combine(run.ArtifactsPath, "input-again.bin")));
        string made = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.OpenRead(Path.Combine(run.ArtifactsPath, "made.bin"))));
        Assert.StartsWith(made, await File.ReadAllTextAsync(run.LogsPath), StringComparison.Ordinal);
        Assert.All(Enumerable.Range(0, 300), i =>
            Assert.Equal($"artifact {i}\n", File.ReadAllText(Path.Combine(run.ArtifactsPath, "many", "deeper", $"{i}.txt"))));
        await Eventually.True(() => bare.Leftovers().Count == 0, what: "the remote run dir to be removed");
    }

    [SkippableFact]
    public async Task A_fish_login_shell_changes_nothing()
    {
        Skip.IfNot(SshServer.IsRoot && File.Exists("/usr/bin/fish"), "needs root (to make a user whose login shell is fish) and fish");
        using SshServer fishy = new(user: "td-fish", shell: "/usr/bin/fish");
        using CliHarness cli = new(machinesJson: $"[ {fishy.Machine("fishy")} ]");
        File.SetUnixFileMode(cli.Root, (UnixFileMode)0b111_101_101);
        string test = cli.MakeTest("t", "echo \"user $(id -un) args: $*\"");

        (int exit, _, string error) = await cli.Run("run", test, "--machine", "fishy", "--wait", "--", "./run.sh", "it's", "$(x)");
        Run run = cli.OpenLab().Store.List().Single().Run;

        Assert.True(exit == 0, $"{error} {run.ErrorMsg}");
        Assert.Equal("user td-fish args: it's $(x)\n", await File.ReadAllTextAsync(run.LogsPath));
    }

    private static bool Release(IDisposable held)
    {
        held.Dispose();
        return true;
    }
}
