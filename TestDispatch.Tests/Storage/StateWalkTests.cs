using System.IO.Abstractions;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Diagnostics;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// doctor's walks of the state dir (modes, size) while it changes under them, on the real disk: the agent removes a run's
/// work/, prune removes runs. A file or directory that vanishes between being listed and being looked at is no longer
/// there, never an error that stops doctor after its first line (issue 31, item 9: a full test run failed so once).
/// </summary>
[Trait("Category", "Integration")]
public sealed class StateWalkTests : IDisposable
{
    private const UnixFileMode Loose = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private readonly TempDir _dir = new();
    private readonly StatePaths _paths;

    public StateWalkTests()
    {
        _paths = new StatePaths(_dir.Combine("state"));
        _ = new RunStore(new FileSystem(), new FlockFileLocks(), _paths.Root); // makes the state dir as the store does
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(_paths.RunsDir, Private);
        foreach (string run in new[] { "aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc" })
        {
            string dir = _paths.RunDir(run);
            Directory.CreateDirectory(dir, Private);
            Directory.CreateDirectory(Path.Combine(dir, "artifacts"), Private);
            Directory.CreateDirectory(Path.Combine(dir, "work"), Private);
            File.WriteAllText(Path.Combine(dir, "output.log"), new string('x', 1000));
            File.WriteAllText(Path.Combine(dir, "work", "big.bin"), new string('y', 5000));
            File.SetUnixFileMode(Path.Combine(dir, "output.log"), Loose);
        }
        File.WriteAllText(Path.Combine(_paths.Root, "agent.log"), "agent\n");
        File.SetUnixFileMode(Path.Combine(_paths.Root, "agent.log"), Loose);
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// The real disk, where each listing of a directory <paramref name="vanishing"/> picks removes those entries right after
    /// it is made and before the walk looks at them: a run pruned, a work dir removed, a log rotated, at the worst moment.
    /// </summary>
    private sealed class VanishingFileSystem(Func<string, bool> vanishing) : FileSystem
    {
        private IDirectory? _directory;

        public override IDirectory Directory => _directory ??= new VanishingDirectory(this, vanishing);
    }

    private sealed class VanishingDirectory(IFileSystem fs, Func<string, bool> vanishing) : DirectoryWrapper(fs)
    {
        public override IEnumerable<string> EnumerateFiles(string path) => Vanish(base.EnumerateFiles(path));

        public override IEnumerable<string> EnumerateDirectories(string path) => Vanish(base.EnumerateDirectories(path));

        private IEnumerable<string> Vanish(IEnumerable<string> listing)
        {
            string[] entries = [.. listing];
            foreach (string entry in entries.Where(vanishing))
            {
                if (System.IO.Directory.Exists(entry))
                {
                    System.IO.Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }
            return entries;
        }
    }

    private bool RunB(string path) => path == _paths.RunDir("bbbbbbbbbbbb");

    [Fact]
    public void The_modes_walk_passes_over_a_run_removed_under_it_and_still_finds_the_others()
    {
        VanishingFileSystem fs = new(p => RunB(p) || p.EndsWith("agent.log", StringComparison.Ordinal) || p.EndsWith("work", StringComparison.Ordinal));

        IReadOnlyList<(string Path, UnixFileMode Mode)> loose = StateModes.Loose(fs, _paths);

        Assert.Equal([Path.Combine(_paths.RunDir("aaaaaaaaaaaa"), "output.log"), Path.Combine(_paths.RunDir("cccccccccccc"), "output.log")],
            loose.Select(l => l.Path).Order());
    }

    [Fact]
    public void Repair_makes_private_what_is_left_and_passes_over_what_vanished()
    {
        VanishingFileSystem fs = new(RunB);

        IReadOnlyList<(string Path, UnixFileMode Mode)> changed = StateModes.Tighten(fs, _paths);

        Assert.Equal(3, changed.Count); // agent.log and two runs' logs; run b's went with it
        Assert.Empty(StateModes.Loose(new FileSystem(), _paths));
    }

    [Fact]
    public void The_size_walk_counts_what_is_left_of_the_runs()
    {
        string size = StateSize.Describe(new VanishingFileSystem(p => RunB(p) || p.EndsWith("big.bin", StringComparison.Ordinal)), _paths);

        Assert.Contains("logs and artifacts 2.0 KiB", size, StringComparison.Ordinal); // two 1000-byte logs: run b and the work files vanished
    }

    [Fact]
    public async Task Doctor_reports_every_check_while_runs_vanish_under_it()
    {
        VanishingFileSystem fs = new(p => RunB(p) || p.EndsWith("work", StringComparison.Ordinal));
        LabConfig config = new(_paths.Root, new RunDefaults(["./run.sh"], TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)),
            [new Machine { Name = "local-1", Transport = TransportKind.Local }]);
        FlockFileLocks locks = new();
        Lab lab = new(config, new RunStore(fs, locks, _paths.Root), fs, locks);
        List<Finding> findings = [];

        await lab.DoctorAsync(repair: false, findings.Add);

        Assert.Equal(["config", "state dir", "modes", "disk", "store", "size"], findings.Select(f => f.Subject).Take(6));
        Assert.Contains("3 files or directories have group or other permissions", findings[2].Message, StringComparison.Ordinal);
    }
}
