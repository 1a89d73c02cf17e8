using System.Text.Json;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Execution;

/// <summary>
/// Every byte a test can write to the controller is bounded: a runaway test's log keeps its head and its tail, saying what
/// was cut between (in the log and in the run), locally and over ssh; and the controller's full disk is never blamed on
/// the test nor counted against the machine (disk_full).
/// </summary>
[Trait("Category", "Integration")]
public sealed class LogLimitTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly SshServer _sshd = new();
    private readonly CliHarness _cli;

    public LogLimitTests()
    {
        _cli = new CliHarness(machinesJson: $$"""[ { "Name": "local-1", "Transport": "local" }, {{_sshd.Machine("rig")}} ]""",
            defaults: """ "AgentIdle": "3s", "KillGrace": "1s", "LogLimit": "1MiB" """);
    }

    public void Dispose()
    {
        _cli.Dispose();
        _sshd.Dispose();
    }

    [Theory]
    [InlineData("local-1")]
    [InlineData("rig")]
    public async Task A_runaway_test_keeps_the_head_and_the_tail_of_its_log_and_says_what_was_cut(string machine)
    {
        string test = _cli.MakeTest("runaway", "yes 'y' &\nwait");

        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", machine, "--timeout", "3s", "--wait", "--json").WaitAsync(Deadline);
        JsonElement run = JsonDocument.Parse(output).RootElement;
        string log = run.GetProperty("logs_path").GetString()!;
        long size = new FileInfo(log).Length;
        string[] lines = File.ReadAllLines(log);

        Assert.True(exit == 124, error);
        Assert.Equal("timeout", run.GetProperty("status").GetString());
        Assert.True(run.GetProperty("log_cut").GetBoolean());
        Assert.InRange(size, 1 << 20, (1 << 20) + 512);
        Assert.Contains(lines, l => l.StartsWith("testdispatch: the test's output passed its limit of 1048576 bytes", StringComparison.Ordinal));
        Assert.Equal("y", lines[0]);
        Assert.Equal("y", lines[^2]);
    }

    [Fact]
    public async Task A_test_within_the_limit_has_its_whole_log_and_no_log_cut_in_its_record()
    {
        string test = _cli.MakeTest("small", "seq 1 1000");

        (int exit, string output, _) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json").WaitAsync(Deadline);
        JsonElement run = JsonDocument.Parse(output).RootElement;

        Assert.Equal(0, exit);
        Assert.False(run.TryGetProperty("log_cut", out _));
        Assert.Equal(string.Join("\n", Enumerable.Range(1, 1000)) + "\n", File.ReadAllText(run.GetProperty("logs_path").GetString()!));
    }

    [SkippableFact]
    public async Task The_controllers_full_disk_is_disk_full_never_the_tests_failure_nor_the_machines()
    {
        using SmallDisk disk = await SmallDisk.MountAsync("2m");
        using CliHarness cli = new(stateDir: disk.Combine("state"), defaults: """ "AgentIdle": "3s", "KillGrace": "1s", "LogLimit": "100MiB" """);
        // A test that writes more than the disk holds (into its work dir there): its writes fail, and it fails because of them.
        string writer = cli.MakeTest("writer", "echo writing\nhead -c 3000000 /dev/zero > big || exit 1");

        (int exit, string output, string error) = await cli.Run("run", writer, "--machine", "local-1", "--wait", "--json").WaitAsync(Deadline);
        Run first = cli.OpenLab(startsAgents: false).Show(JsonDocument.Parse(output).RootElement.GetProperty("id").GetString()!);
        // The test's own big file went with its work dir. Later runs on a disk now filled to the brim: refused before anything
        // is stored (the store cannot write either), or ended disk_full; never the test's failure, never held against the machine.
        disk.Fill();
        // A waiter that waits on a full disk says so, naming the disk and what ends the wait.
        List<string> later = [];
        for (int i = 0; i < 3; i++)
        {
            using CancellationTokenSource patience = new(TimeSpan.FromSeconds(15));
            (int code, string next, string said) = await cli.Run(["run", cli.MakeTest($"after-{i}", "echo hello"), "--machine", "local-1", "--wait", "--json"], patience.Token);
            later.Add(next.Length > 0 && code != 130 ? JsonDocument.Parse(next).RootElement.GetProperty("error_code").GetString()!
                : said.Contains($"{ErrorCodes.DiskFull}:", StringComparison.Ordinal) ? ErrorCodes.DiskFull : said);
        }
        var local = cli.OpenLab(startsAgents: false).Machines().Single(m => m.Name == "local-1");
        (_, string doctor, _) = await cli.Run("doctor");

        Assert.True(exit == 4, error);
        Assert.Equal((RunStatus.Failed, ErrorCodes.DiskFull), (first.Status, first.ErrorCode));
        Assert.All(later, code => Assert.Equal(ErrorCodes.DiskFull, code));
        Assert.Equal((0, "healthy"), (local.InfraFailures, local.Health));
        Assert.Matches("(?m)^warn +disk ", doctor);
    }
}
