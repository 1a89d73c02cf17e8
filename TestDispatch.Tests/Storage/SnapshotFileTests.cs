using System.Text;
using System.Text.Json;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Storage;

/// <summary>snapshot.json: a header line, then one run record per line, parsed in parallel parts.</summary>
[Trait("Category", "Unit")]
public class SnapshotFileTests
{
    private readonly FakeStateDir _dir = new();

    private SnapshotFile File => new(_dir.Fs, _dir.Paths);

    /// <summary>Runs with specs that repeat and change, so the reader's sharing of equal specs shows if it is wrong.</summary>
    private static List<RunRecord> ManyRuns(int count) =>
    [
        .. Enumerable.Range(1, count).Select(i => StoreJsonReaderTests.Pending() with
        {
            Run = StoreJsonReaderTests.Pending().Run with { Id = $"{i:x12}", Machine = $"m{i % 7}" },
            Seq = i,
            Spec = new RunSpec(i % 5 == 0 ? ["./run.sh", $"--case={i}"] : ["./run.sh"], TimeSpan.FromMinutes(i % 3 == 0 ? 5 : 30)),
        }),
        StoreJsonReaderTests.Full(),
    ];

    [Fact]
    public void Every_run_reads_back_in_order_whether_parsed_in_one_part_or_several()
    {
        _dir.Fs.Directory.CreateDirectory(FakeStateDir.Root);
        List<RunRecord> runs = ManyRuns(300);
        File.Write(new Snapshot(4, runs));
        byte[] bytes = _dir.Fs.File.ReadAllBytes(_dir.Paths.Snapshot);

        Snapshot whole = File.Parse(bytes);
        Snapshot inParts = File.Parse(bytes, minPartBytes: 1);

        Assert.Equal(301, bytes.Count(b => b == '\n') - 1);
        foreach (Snapshot read in new[] { whole, inParts })
        {
            Assert.Equal(4, read.Generation);
            Assert.Equal(runs.Count, read.Runs.Count);
            for (int i = 0; i < runs.Count; i++)
            {
                StoreJsonReaderTests.AssertSameValues(runs[i], read.Runs[i]);
            }
        }
        Assert.Equal(4, File.ReadGeneration());
    }

    [Fact]
    public void An_empty_snapshot_reads_back_empty()
    {
        _dir.Fs.Directory.CreateDirectory(FakeStateDir.Root);
        File.Write(new Snapshot(2, []));

        Snapshot read = File.Read();

        Assert.Equal((2, 0), (read.Generation, read.Runs.Count));
    }

    [Fact]
    public void A_snapshot_in_the_older_one_object_form_still_loads()
    {
        _dir.Fs.Directory.CreateDirectory(FakeStateDir.Root);
        List<RunRecord> runs = ManyRuns(20);
        _dir.Fs.File.WriteAllBytes(_dir.Paths.Snapshot, JsonSerializer.SerializeToUtf8Bytes(new Snapshot(3, runs), StoreJson.Default.Snapshot));

        Snapshot read = File.Read();

        Assert.Equal((3, runs.Count), (read.Generation, read.Runs.Count));
        StoreJsonReaderTests.AssertSameValues(runs[^1], read.Runs[^1]);
        Assert.Equal(3, File.ReadGeneration());
    }

    [Fact]
    public void A_snapshot_cut_at_a_line_end_is_reported_as_damaged()
    {
        _dir.Fs.Directory.CreateDirectory(FakeStateDir.Root);
        File.Write(new Snapshot(1, ManyRuns(10)));
        string[] lines = _dir.Fs.File.ReadAllLines(_dir.Paths.Snapshot);
        _dir.Fs.File.WriteAllText(_dir.Paths.Snapshot, string.Join('\n', lines[..^2]) + "\n");

        DispatchException error = Assert.Throws<DispatchException>(() => File.Read());

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains(_dir.Paths.Snapshot, error.Message, StringComparison.Ordinal);
        Assert.Contains("says 11 runs follow, but 9 do", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1 << 20)]
    public void A_damaged_run_line_is_reported_with_the_snapshot_path_and_line(int minPartBytes)
    {
        _dir.Fs.Directory.CreateDirectory(FakeStateDir.Root);
        File.Write(new Snapshot(1, ManyRuns(50)));
        string[] lines = _dir.Fs.File.ReadAllLines(_dir.Paths.Snapshot);
        lines[40] = lines[40].Replace("\"status\":\"pending\"", "\"status\":\"unheard-of\"", StringComparison.Ordinal);
        byte[] bytes = Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n");

        DispatchException error = Assert.Throws<DispatchException>(() => File.Parse(bytes, minPartBytes));

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains($"{_dir.Paths.Snapshot}:41", error.Message, StringComparison.Ordinal);
        Assert.Contains("not a run status", error.Message, StringComparison.Ordinal);
    }
}
