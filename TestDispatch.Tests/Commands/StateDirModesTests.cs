using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Commands;

/// <summary>
/// The state dir's modes as a user meets them: a dir made by 'mkdir -p' (0755) is tightened once, and said so; one
/// others may write to is refused with the fix; doctor finds loose modes and --repair fixes them.
/// </summary>
[Trait("Category", "Integration")]
public sealed class StateDirModesTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    private void MakeStateDir(int mode)
    {
        Directory.CreateDirectory(_cli.StateDir);
        File.SetUnixFileMode(_cli.StateDir, (UnixFileMode)mode);
    }

    [Fact]
    public async Task A_state_dir_made_by_mkdir_p_is_made_0700_and_the_first_command_says_so_once()
    {
        MakeStateDir(0b111_101_101);

        (int exit, string output, string error) = await _cli.Run("runs", "--json");
        (int again, _, string quiet) = await _cli.Run("runs", "--json");

        Assert.Equal((0, 0, ""), (exit, again, quiet));
        Assert.Equal($"testdispatch: the state dir {_cli.StateDir} was readable by other users (mode 0755); it is now 0700, as it must be\n", error);
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(output).RootElement.ValueKind);
        Assert.Equal(FileModes.PrivateDirectory, File.GetUnixFileMode(_cli.StateDir));
    }

    [Fact]
    public async Task A_state_dir_others_may_write_to_is_refused_with_the_fix_and_nothing_is_stored()
    {
        MakeStateDir(0b111_111_111);
        string test = _cli.MakeTest("pass", "exit 0");

        (int exit, string output, string error) = await _cli.Run("run", test, "--machine", "local-1");

        Assert.Equal((ExitCodes.Infrastructure, ""), (exit, output));
        Assert.StartsWith($"testdispatch: {ErrorCodes.StateUnsafe}: the state dir {_cli.StateDir} is writable by its group and other users (mode 0777, owner ", error, StringComparison.Ordinal);
        Assert.Contains($"'chmod 700 {_cli.StateDir}'", error, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_cli.StateDir));
        Assert.Equal((UnixFileMode)0b111_111_111, File.GetUnixFileMode(_cli.StateDir));
    }

    [Fact]
    public async Task Doctor_fails_on_a_state_dir_others_may_write_to_and_repair_makes_it_private()
    {
        MakeStateDir(0b111_111_101);

        (int checkedExit, string report, _) = await _cli.Run("doctor");
        (int repaired, string repair, _) = await _cli.Run("doctor", "--repair");
        (int after, _, string error) = await _cli.Run("runs");

        Assert.Equal(ExitCodes.Infrastructure, checkedExit);
        Assert.Contains($"FAIL  state dir   the state dir {_cli.StateDir} is writable by its group (mode 0775", report, StringComparison.Ordinal);
        Assert.Contains("'testdispatch doctor --repair' makes it 0700", report, StringComparison.Ordinal);
        Assert.Equal(0, repaired);
        Assert.Contains($"repair: {_cli.StateDir} made 0700", repair, StringComparison.Ordinal);
        Assert.Contains("ok    state dir", repair, StringComparison.Ordinal);
        Assert.Equal((0, ""), (after, error));
    }

    [Fact]
    public async Task The_store_makes_its_files_0600_and_doctor_repair_takes_any_other_bits_off_what_it_keeps()
    {
        string test = _cli.MakeTest("pass", "echo hi");
        (int exit, string id, string error) = await _cli.Run("run", test, "--machine", "local-1", "--wait");
        Assert.True(exit == 0, error);
        Lab lab = _cli.OpenLab(startsAgents: false);
        lab.Store.Compact();
        StatePaths paths = lab.Store.Paths;
        Assert.All(new[] { paths.StateLock, paths.AgentLock, paths.AgentLog, paths.Snapshot, paths.Journal(1) }.Where(File.Exists),
            f => Assert.Equal((f, FileModes.PrivateFile), (f, File.GetUnixFileMode(f))));
        Assert.Equal(FileModes.PrivateDirectory, File.GetUnixFileMode(paths.RunsDir));
        string log = paths.Log(id.Trim());
        File.SetUnixFileMode(log, (UnixFileMode)0b110_100_100);

        (_, string before, _) = await _cli.Run("doctor");
        (_, string repair, _) = await _cli.Run("doctor", "--repair");
        (int clean, string afterRepair, _) = await _cli.Run("doctor");

        Assert.Contains("warn  modes", before, StringComparison.Ordinal);
        Assert.Contains($"{log} (0644)", before, StringComparison.Ordinal);
        Assert.Contains($"repair: {log} was 0644; made private", repair, StringComparison.Ordinal);
        Assert.Equal(FileModes.PrivateFile, File.GetUnixFileMode(log));
        Assert.Equal(0, clean);
        Assert.Contains("ok    modes", afterRepair, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_leaves_no_file_others_may_read_and_the_test_keeps_the_umask_it_was_given()
    {
        string umask = (await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(CliWrap.Cli.Wrap("sh").WithArguments(["-c", "umask"])))
            .StandardOutput.Trim();
        string test = _cli.MakeTest("pass", "umask; echo made > made-by-the-test; stat -c %a made-by-the-test");
        (int exit, string id, string error) = await _cli.Run("run", test, "--machine", "local-1", "--wait");
        Assert.True(exit == 0, error);
        Lab lab = _cli.OpenLab(startsAgents: false);
        string runDir = Path.GetDirectoryName(lab.Store.Paths.Log(id.Trim()))!;

        (_, string doctor, _) = await _cli.Run("doctor");

        // The agent removes the wrapper's files just after the verdict, maybe while they are looked at: a file gone is no leak.
        Assert.All(Directory.EnumerateFiles(runDir).Select(f => (f, ModeOf(f))).Where(m => m.Item2 is not null),
            m => Assert.Equal((m.f, (UnixFileMode?)FileModes.PrivateFile), m));
        Assert.True(File.Exists(lab.Store.Paths.Log(id.Trim())), "the run's log stays");
        Assert.Contains("ok    modes", doctor, StringComparison.Ordinal);
        Assert.StartsWith(umask + "\n", await File.ReadAllTextAsync(lab.Store.Paths.Log(id.Trim())), StringComparison.Ordinal);
    }

    private static UnixFileMode? ModeOf(string file)
    {
        try
        {
            return File.GetUnixFileMode(file);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }
}
