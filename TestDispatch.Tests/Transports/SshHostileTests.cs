using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.Diagnostics;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Transports.Ssh;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Transports;

/// <summary>
/// The ssh transport against what a hostile lab gives it (a real sshd on 127.0.0.1, as in <see cref="SshTransportTests"/>):
/// tests that flood their log and end at once, login shells that talk on stdout, copies that fail half way, artifacts
/// whose symlinks lead round in circles.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SshHostileTests : IDisposable
{
    private readonly SshServer _sshd = new();
    private readonly CliHarness _cli;

    public SshHostileTests()
    {
        _cli = new CliHarness(machinesJson: $"[ {_sshd.Machine("rig")} ]");
    }

    public void Dispose()
    {
        _cli.Dispose();
        _sshd.Dispose();
    }

    [Fact]
    public async Task A_log_of_many_looks_written_just_before_the_test_ends_comes_back_whole()
    {
        // 20 MB at once, then the end: the look that sees the wrapper done brings one chunk; the rest must follow.
        string test = _cli.MakeTest("flood", "head -c 20000000 /dev/zero | tr '\\0' x\nprintf END");

        (int exit, _, string error) = await _cli.Run("run", test, "--machine", "rig", "--wait");
        Run run = _cli.OpenLab().Store.List().Single().Run;

        Assert.True(exit == 0, $"{error} {run.ErrorMsg}");
        FileInfo log = new(run.LogsPath);
        Assert.Equal(20_000_003, log.Length);
        using FileStream stream = log.OpenRead();
        stream.Seek(-4, SeekOrigin.End);
        byte[] tail = new byte[4];
        stream.ReadExactly(tail);
        Assert.Equal("xEND", System.Text.Encoding.ASCII.GetString(tail));
    }

    [SkippableFact]
    public async Task A_login_shell_that_prints_on_stdout_changes_nothing_for_the_copy_or_the_artifacts()
    {
        Skip.IfNot(SshServer.IsRoot, "needs root (to make a user whose login shell talks)");
        using TempDir shellDir = new("td-chatty-");
        File.SetUnixFileMode(shellDir.Path, (UnixFileMode)0b111_101_101);
        string shell = shellDir.Combine("chatty-sh");
        await File.WriteAllTextAsync(shell, "#!/bin/sh\necho 'Welcome to the lab (stdout)'\necho 'Welcome (stderr)' >&2\nexec /bin/sh \"$@\"\n");
        File.SetUnixFileMode(shell, (UnixFileMode)0b111_101_101);
        using SshServer chatty = new(user: "td-chatty", shell: shell);
        using CliHarness cli = new(machinesJson: $"[ {chatty.Machine("chatty")} ]");
        File.SetUnixFileMode(cli.Root, (UnixFileMode)0b111_101_101);
        string test = cli.MakeTest("t", "cat data.txt\necho made > \"$TESTDISPATCH_ARTIFACTS/made.txt\"");
        await File.WriteAllTextAsync(Path.Combine(test, "data.txt"), "payload\n");

        (int exit, _, string error) = await cli.Run("run", test, "--machine", "chatty", "--wait");
        (int again, _, string againError) = await cli.Run("run", test, "--machine", "chatty", "--wait", "--", "./run.sh", "second");
        IReadOnlyList<RunRecord> runs = cli.OpenLab().Store.List();

        Assert.True(exit == 0, $"{error} {string.Join("; ", runs.Select(r => r.Run.ErrorMsg))}");
        Assert.True(again == 0, againError);
        Assert.All(runs, r =>
        {
            Assert.Equal(RunStatus.Completed, r.Run.Status);
            Assert.Equal("payload\n", File.ReadAllText(r.Run.LogsPath));
            Assert.Equal("made\n", File.ReadAllText(Path.Combine(r.Run.ArtifactsPath, "made.txt")));
        });
        await Eventually.True(() => chatty.Leftovers().Count == 0, what: "the remote run dirs to be removed");
    }

    [SkippableFact]
    public async Task A_copy_that_fails_half_way_fails_the_run_as_copy_failed_and_leaves_nothing_on_the_machine()
    {
        using SmallDisk disk = await SmallDisk.MountAsync("1m");
        using CliHarness cli = new(machinesJson: $"[ {_sshd.Machine("small").Replace(_sshd.WorkRoot, disk.Path, StringComparison.Ordinal)} ]");
        string test = cli.MakeTest("big", "echo never");
        await File.WriteAllBytesAsync(Path.Combine(test, "blob.bin"), new byte[3 << 20]);

        (int exit, _, string error) = await cli.Run("run", test, "--machine", "small", "--wait");
        Run run = cli.OpenLab().Store.List().Single().Run;

        Assert.Equal(ExitCodes.Infrastructure, exit);
        CliHarness.AssertNoStackTrace(error);
        Assert.Equal((RunStatus.Failed, ErrorCodes.CopyFailed), (run.Status, run.ErrorCode));
        Assert.Empty(Directory.EnumerateFileSystemEntries(disk.Path));
    }

    [SkippableFact]
    public async Task Doctor_passes_a_machine_whose_master_ends_in_the_middle_of_its_check()
    {
        // Found by the chaos harness: doctor's session goes through the agent's master, and an agent going idle ends its
        // master (-O exit) with the session in it; ssh exits 255 saying nothing, and doctor said "FAIL connect: ...: ;".
        Skip.IfNot(SshServer.IsRoot, "needs root (to make a user whose login shell is slow)");
        using TempDir shellDir = new("td-slow-");
        File.SetUnixFileMode(shellDir.Path, (UnixFileMode)0b111_101_101);
        string shell = shellDir.Combine("slow-sh");
        await File.WriteAllTextAsync(shell, "#!/bin/sh\nsleep 3\nexec /bin/sh \"$@\"\n");
        File.SetUnixFileMode(shell, (UnixFileMode)0b111_101_101);
        using SshServer slow = new(user: "td-slow", shell: shell);
        using CliHarness cli = new(machinesJson: $"[ {slow.Machine("slow")} ]");
        Engine.Configuration.Machine machine = cli.OpenLab(startsAgents: false).Config.Machines[0];
        SshEndpoint endpoint = new(machine, cli.StateDir);
        Directory.CreateDirectory(Path.GetDirectoryName(endpoint.ControlPath)!);
        await Cli.Wrap("ssh").WithArguments(endpoint.Master(TimeSpan.FromMinutes(1))).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        int[] masters = [.. Processes.WithArgument("ControlPath=" + endpoint.ControlPath).Where(p => CommandLine(p).Contains("-M"))];

        Task<IReadOnlyList<Finding>> checking = SshCheck.RunAsync(machine, cli.StateDir);
        await Eventually.True(() => Processes.WithArgument(shell).Count > 0, what: "the check's session to be logged in");
        foreach (int master in masters)
        {
            SshServer.Kill(master, "-KILL");
        }
        IReadOnlyList<Finding> findings = await checking;

        Assert.NotEmpty(masters);
        Assert.DoesNotContain(findings, f => f.Health == Health.Failure);
        Assert.Contains(findings, f => f.Message.StartsWith("connect and log in", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_master_killed_mid_copy_costs_a_reconnect_never_the_run()
    {
        string test = _cli.MakeTest("heavy", "echo ran");
        await using (FileStream blob = File.Create(Path.Combine(test, "blob.bin")))
        {
            blob.SetLength(400L << 20);
        }
        string socket = SshEndpoint.ControlPathFor(_cli.OpenLab().Config.Machines[0], _cli.StateDir);

        Task<(int Exit, string Out, string Err)> waiting = _cli.Run("run", test, "--machine", "rig", "--wait");
        await Eventually.True(() => Processes.WithArgument("ControlPath=" + socket).Any(p => CommandLine(p).FirstOrDefault() == "rsync"),
            what: "the copy to start");
        IReadOnlyList<int> masters = [.. Processes.WithArgument("ControlPath=" + socket).Where(p => CommandLine(p).Contains("-M"))];
        foreach (int master in masters)
        {
            SshServer.Kill(master, "-KILL");
        }
        (int exit, _, string error) = await waiting;
        Run run = _cli.OpenLab().Store.List().Single().Run;

        Assert.NotEmpty(masters);
        Assert.True(exit == 0, $"{error} {run.ErrorMsg}");
        Assert.Equal("ran\n", await File.ReadAllTextAsync(run.LogsPath));
        Assert.True(_sshd.Logins() >= 2, "a new master logged in");
        await Eventually.True(() => _sshd.Leftovers().Count == 0, what: "the remote run dir to be removed");
    }

    [Fact]
    public async Task A_master_stopped_mid_run_is_ended_and_replaced_and_the_run_goes_on_to_its_verdict()
    {
        // A SIGSTOPped master takes sessions on its socket and never answers: every call stalled up to its 60 s limit, and the
        // run ended transport_unreachable. It is now found not answering, SIGKILLed and replaced within seconds.
        string test = _cli.MakeTest("steady", "echo begun\nsleep 4\necho done");
        string socket = SshEndpoint.ControlPathFor(_cli.OpenLab().Config.Machines[0], _cli.StateDir);
        (_, string output, string error) = await _cli.Run("run", test, "--machine", "rig", "--json");
        Assert.True(output.Length > 0, error);
        string id = System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("id").GetString()!;
        Run started = _cli.OpenLab().Store.Get(id).Run;
        await Eventually.True(() => File.Exists(started.LogsPath) && File.ReadAllText(started.LogsPath).Contains("begun", StringComparison.Ordinal),
            what: "the test to begin");
        int[] masters = [.. Processes.WithArgument("ControlPath=" + socket).Where(p => CommandLine(p).Contains("-M"))];
        try
        {
            foreach (int master in masters)
            {
                SshServer.Kill(master, "-STOP");
            }

            Run ended = await _cli.OpenLab().WaitAsync(id).WaitAsync(TimeSpan.FromSeconds(45)); // the old code's call limit alone is 60 s

            Assert.NotEmpty(masters);
            Assert.Equal((RunStatus.Completed, "begun\ndone\n"), (ended.Status, await File.ReadAllTextAsync(ended.LogsPath)));
            Assert.All(masters, m => Assert.True(CommandLine(m).Length <= 1, $"the stopped master {m} is still there")); // gone or a zombie
            Assert.Contains("does not answer on its socket (stopped?); ended it", await File.ReadAllTextAsync(Path.Combine(_cli.StateDir, "agent.log")),
                StringComparison.Ordinal);
        }
        finally
        {
            foreach (int master in masters.Where(m => CommandLine(m).Length > 1))
            {
                SshServer.Kill(master, "-CONT");
                SshServer.Kill(master, "-KILL");
            }
        }
    }

    [Fact]
    public async Task A_test_that_removes_its_own_run_directory_at_once_leaves_no_process_behind_its_verdict()
    {
        string test = _cli.MakeTest("vandal", "echo bye\nrm -rf \"$(dirname \"$PWD\")\"\nsleep 120");

        (int exit, _, string error) = await _cli.Run("run", test, "--machine", "rig", "--wait");
        Run run = _cli.OpenLab().Store.List().Single().Run;

        CliHarness.AssertNoStackTrace(error);
        Assert.NotEqual(0, exit);
        Assert.Equal(RunStatus.Failed, run.Status);
        Assert.Empty(SshTransportTests.ProcessesOf(run.Id));
        await Eventually.True(() => _sshd.Leftovers().Count == 0, what: "the remote run dir to be removed");
    }

    private static string[] CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        }
        catch (IOException)
        {
            return [];
        }
    }

    [Fact]
    public async Task Artifacts_with_symlinks_to_their_own_dirs_come_back_and_the_one_leading_out_is_counted_as_dropped()
    {
        string test = _cli.MakeTest("loops", """
            mkdir -p "$TESTDISPATCH_ARTIFACTS/d"
            echo kept > "$TESTDISPATCH_ARTIFACTS/d/f.txt"
            ln -s . "$TESTDISPATCH_ARTIFACTS/d/self"
            ln -s loop2 "$TESTDISPATCH_ARTIFACTS/loop1"
            ln -s loop1 "$TESTDISPATCH_ARTIFACTS/loop2"
            ln -s .. "$TESTDISPATCH_ARTIFACTS/up"
            """);

        (int exit, _, string error) = await _cli.Run("run", test, "--machine", "rig", "--wait");
        Run run = _cli.OpenLab().Store.List().Single().Run;

        Assert.True(exit == 0, $"{error} {run.ErrorMsg}");
        Assert.Equal("kept\n", await File.ReadAllTextAsync(Path.Combine(run.ArtifactsPath, "d", "f.txt")));
        Assert.Equal(".", new FileInfo(Path.Combine(run.ArtifactsPath, "d", "self")).LinkTarget);
        Assert.Null(new FileInfo(Path.Combine(run.ArtifactsPath, "up")).LinkTarget);
        Assert.Contains("testdispatch: 1 symbolic link in the artifacts pointed outside them", await File.ReadAllTextAsync(run.LogsPath), StringComparison.Ordinal);
    }
}
