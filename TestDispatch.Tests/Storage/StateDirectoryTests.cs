using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// The state dir is its user's alone: made 0700, tightened when others may read it, refused when they may write. On the
/// real disk: MockFileSystem keeps no modes for directories.
/// </summary>
[Trait("Category", "Integration")]
public sealed class StateDirectoryTests : IDisposable
{
    private const UnixFileMode Private = FileModes.PrivateDirectory;
    private readonly TempDir _temp = new();
    private readonly RealStateDir _dir;

    public StateDirectoryTests() => _dir = new RealStateDir(_temp.Combine("state"));

    public void Dispose() => _temp.Dispose();

    private static UnixFileMode ModeOf(string path) => File.GetUnixFileMode(path);

    /// <summary>What these tests need of <see cref="FakeStateDir"/>, on the real disk.</summary>
    private sealed class RealStateDir(string root)
    {
        public System.IO.Abstractions.FileSystem Fs { get; } = new();

        public InMemoryFileLocks Locks { get; } = new();

        public string Root => root;

        public RunStore Open() => new(Fs, Locks, root);
    }

    [Fact]
    public void A_new_state_dir_its_missing_parents_and_its_runs_dir_are_made_0700()
    {
        string path = _temp.Combine("home", "lab", ".local", "state", "testdispatch");

        RunStore store = new(_dir.Fs, _dir.Locks, path);

        Assert.Equal(Private, ModeOf(path));
        Assert.Equal(Private, ModeOf(_temp.Combine("home", "lab", ".local", "state")));
        Assert.Equal(Private, ModeOf(_temp.Combine("home")));
        Assert.Equal(Private, ModeOf(store.Paths.RunsDir));
        Assert.Null(store.TightenedFrom);
    }

    [Fact]
    public void Create_private_makes_a_runs_directories_and_the_missing_ones_above_0700()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request()).Run;

        StateDirectory.CreatePrivate(_dir.Fs, run.ArtifactsPath);
        StateDirectory.CreatePrivate(_dir.Fs, store.Paths.Work(run.Id));

        Assert.All([store.Paths.RunDir(run.Id), run.ArtifactsPath, store.Paths.Work(run.Id)], d => Assert.Equal(Private, ModeOf(d)));
    }

    [Theory]
    [InlineData(0b111_101_101)] // 0755, as mkdir -p leaves it
    [InlineData(0b111_100_000)] // 0740
    [InlineData(0b111_000_001)] // 0701
    public void A_state_dir_others_may_only_read_is_made_0700_and_the_store_says_what_it_was(int mode)
    {
        _dir.Fs.Directory.CreateDirectory(_dir.Root);
        _dir.Fs.File.SetUnixFileMode(_dir.Root, (UnixFileMode)mode);

        RunStore store = _dir.Open();

        Assert.Equal((UnixFileMode)mode, store.TightenedFrom);
        Assert.Equal(Private, ModeOf(_dir.Root));
        Assert.Null(_dir.Open().TightenedFrom); // said once: it is private now
    }

    [Fact]
    public void A_readable_directory_that_holds_other_things_than_the_stores_is_refused_never_made_private()
    {
        Directory.CreateDirectory(_dir.Root);
        File.WriteAllText(Path.Combine(_dir.Root, "notes.txt"), "not the store's");
        File.SetUnixFileMode(_dir.Root, (UnixFileMode)0b111_101_101);

        DispatchException error = Assert.Throws<DispatchException>(() => _dir.Open());

        Assert.Equal(ErrorCodes.StateUnsafe, error.ErrorCode);
        Assert.Contains($"the state dir {_dir.Root} is readable by other users (mode 0755) and holds 'notes.txt'", error.Message, StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)0b111_101_101, ModeOf(_dir.Root));
        Assert.Equal(["notes.txt"], Directory.EnumerateFileSystemEntries(_dir.Root).Select(Path.GetFileName));
    }

    [Fact]
    public void A_readable_state_dir_that_holds_only_the_stores_files_is_made_private()
    {
        RunStore store = _dir.Open();
        store.Prepare(Request());
        store.Compact();
        File.WriteAllText(store.Paths.Snapshot + ".corrupt-20260101T000000Z", "a backup");
        foreach (string made in new[] { store.Paths.HistoryLock, Path.Combine(_dir.Root, "machines.lock"), Path.Combine(_dir.Root, "machines.json") })
        {
            File.WriteAllText(made, ""); // what listings and the machine ledger make
        }
        File.SetUnixFileMode(_dir.Root, (UnixFileMode)0b111_101_000);

        Assert.Equal((UnixFileMode)0b111_101_000, _dir.Open().TightenedFrom);
        Assert.Equal(Private, ModeOf(_dir.Root));
    }

    [Theory]
    [InlineData(0b111_111_111, "0777", "its group and other users")]
    [InlineData(0b111_111_000, "0770", "its group")]
    [InlineData(0b111_000_010, "0702", "other users")]
    public void A_state_dir_others_may_write_to_is_refused_naming_its_mode_and_the_fix_and_left_as_it_is(int mode, string octal, string who)
    {
        _dir.Fs.Directory.CreateDirectory(_dir.Root);
        _dir.Fs.File.SetUnixFileMode(_dir.Root, (UnixFileMode)mode);

        DispatchException error = Assert.Throws<DispatchException>(() => _dir.Open());

        Assert.Equal(ErrorCodes.StateUnsafe, error.ErrorCode);
        Assert.Contains($"the state dir {_dir.Root} is writable by {who} (mode {octal}, owner ", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'chmod 700 {_dir.Root}'", error.Message, StringComparison.Ordinal);
        Assert.Equal((UnixFileMode)mode, ModeOf(_dir.Root));
        Assert.Empty(_dir.Fs.Directory.EnumerateFileSystemEntries(_dir.Root));
    }

    [SkippableFact]
    public void A_state_dir_another_user_owns_is_refused_naming_the_owner_even_for_root()
    {
        Skip.If(Environment.UserName != "root", "only root can give a directory to another user here");
        Directory.CreateDirectory(_dir.Root);
        File.SetUnixFileMode(_dir.Root, Private);
        Chown(_dir.Root, 54321);

        DispatchException error = Assert.Throws<DispatchException>(() => _dir.Open());

        Assert.Equal(ErrorCodes.StateUnsafe, error.ErrorCode);
        Assert.Contains($"the state dir {_dir.Root} belongs to uid 54321, not to you", error.Message, StringComparison.Ordinal);
        Assert.Contains("mode 0700", error.Message, StringComparison.Ordinal);
        Assert.Empty(_dir.Fs.Directory.EnumerateFileSystemEntries(_dir.Root));
    }

    private static void Chown(string path, int uid)
    {
        using System.Diagnostics.Process chown = System.Diagnostics.Process.Start("chown", [uid.ToString(System.Globalization.CultureInfo.InvariantCulture), path]);
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
    }

    [Fact]
    public void Loose_modes_are_found_on_what_the_store_keeps_and_tightened_but_never_inside_artifacts_or_work()
    {
        RunStore store = _dir.Open();
        Run run = store.Prepare(Request()).Run;
        string work = store.Paths.Work(run.Id);
        _dir.Fs.Directory.CreateDirectory(work);
        _dir.Fs.File.SetUnixFileMode(store.Paths.RunDir(run.Id), (UnixFileMode)0b111_101_101);
        _dir.Fs.File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
        _dir.Fs.File.WriteAllText(run.LogsPath, "log");
        _dir.Fs.File.SetUnixFileMode(run.LogsPath, (UnixFileMode)0b110_100_100);
        _dir.Fs.File.SetUnixFileMode(store.Paths.RunsDir, Private);
        _dir.Fs.File.WriteAllText(_dir.Fs.Path.Combine(work, "run.sh"), "#!/bin/sh");
        _dir.Fs.File.SetUnixFileMode(_dir.Fs.Path.Combine(work, "run.sh"), (UnixFileMode)0b111_101_101);

        IReadOnlyList<(string Path, UnixFileMode Mode)> loose = StateModes.Loose(_dir.Fs, store.Paths);
        StateModes.Tighten(_dir.Fs, store.Paths);

        Assert.Equal([store.Paths.RunDir(run.Id), run.LogsPath, work], loose.Select(l => l.Path).Order());
        Assert.Empty(StateModes.Loose(_dir.Fs, store.Paths));
        Assert.Equal((Private, FileModes.PrivateFile), (ModeOf(work), ModeOf(run.LogsPath)));
        Assert.Equal((UnixFileMode)0b111_101_101, ModeOf(_dir.Fs.Path.Combine(work, "run.sh"))); // the test's own file: its mode is the test's
    }
}
