using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// A state dir written by the build before history (Fixtures/README.md) opens in this one with no step by the user and
/// nothing lost, whether or not opening it moves its runs into history.
/// </summary>
[Trait("Category", "Integration")]
public sealed class MigrationTests : IDisposable
{
    private static readonly StoreOptions MovesAtOnce = new() { RecentRuns = 2, SegmentRuns = 2 };

    private readonly TempDir _dir = new("testdispatch-migration-");

    public void Dispose() => _dir.Dispose();

    private string CopyFixture(string name)
    {
        string target = _dir.Combine(name);
        foreach (string file in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Storage", "Fixtures", name), "*", SearchOption.AllDirectories))
        {
            string to = Path.Combine(target, Path.GetRelativePath(Path.Combine(AppContext.BaseDirectory, "Storage", "Fixtures", name), file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        Directory.CreateDirectory(Path.Combine(target, "runs"));
        foreach (string directory in Directory.EnumerateDirectories(target, "*", SearchOption.AllDirectories).Prepend(target))
        {
            File.SetUnixFileMode(directory, FileModes.PrivateDirectory);
        }
        return target;
    }

    /// <summary>What the old files say, read without the store's code: each run's (and batch's) last record, by id.</summary>
    private static (Dictionary<string, JsonElement> Runs, Dictionary<string, JsonElement> Batches) ReadOldFiles(string stateDir)
    {
        Dictionary<string, JsonElement> runs = [], batches = [];
        string[] snapshot = File.ReadAllLines(Path.Combine(stateDir, "snapshot.json"));
        foreach (JsonElement batch in JsonDocument.Parse(snapshot[0]).RootElement.GetProperty("batches").EnumerateArray())
        {
            batches[batch.GetProperty("id").GetString()!] = batch.Clone();
        }
        foreach (string line in snapshot.Skip(1))
        {
            JsonElement run = JsonDocument.Parse(line).RootElement.GetProperty("run");
            runs[run.GetProperty("id").GetString()!] = run.Clone();
        }
        foreach (string line in File.ReadAllLines(Path.Combine(stateDir, "journal.1.jsonl")))
        {
            JsonElement entry = JsonDocument.Parse(line).RootElement;
            if (entry.TryGetProperty("run", out JsonElement record))
            {
                JsonElement run = record.GetProperty("run");
                runs[run.GetProperty("id").GetString()!] = run.Clone();
            }
            else
            {
                JsonElement batch = entry.GetProperty("batch");
                batches[batch.GetProperty("id").GetString()!] = batch.Clone();
            }
        }
        return (runs, batches);
    }

    private static RunStore Open(string stateDir, StoreOptions? options = null) => new(new FileSystem(), new FlockFileLocks(), stateDir, options: options);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_run_of_the_old_state_dir_is_there_as_it_was(bool moveToHistory)
    {
        string stateDir = CopyFixture("state-22072a7");
        (Dictionary<string, JsonElement> expected, Dictionary<string, JsonElement> batches) = ReadOldFiles(stateDir);
        Assert.Equal((17, 3), (expected.Count, batches.Count));

        RunStore store = Open(stateDir, moveToHistory ? MovesAtOnce : null);
        IReadOnlyList<RunRecord> listed = store.List();

        Assert.Equal(moveToHistory, File.Exists(Path.Combine(stateDir, "history", "index.json")));
        Assert.Equal(expected.Keys.Order(), listed.Select(r => r.Id).Order());
        Assert.Equal(listed.OrderByDescending(r => r.Seq).Select(r => r.Id), listed.Select(r => r.Id));
        foreach (RunRecord record in listed)
        {
            JsonElement old = expected[record.Id];
            Run run = Open(stateDir).Find(record.Id[..8]).Run;
            Assert.Equal(old.GetProperty("status").GetString(), run.Status.ToWord());
            Assert.Equal(old.TryGetProperty("exit_code", out JsonElement exit) ? exit.GetInt32() : null, run.ExitCode);
            Assert.Equal(old.TryGetProperty("ended_at", out JsonElement ended) ? ended.GetDateTimeOffset() : null, run.EndedAt);
            Assert.Equal(old.GetProperty("test_dir_hash").GetString(), run.TestDirHash);
            Assert.Equal(old.TryGetProperty("error_code", out JsonElement code) ? code.GetString() : null, run.ErrorCode);
            Assert.Equal(old.TryGetProperty("batch_id", out JsonElement batch) ? batch.GetString() : null, run.BatchId);
        }
        Assert.Equal(BatchStatus.Failed, store.FindBatch("b2eec66667dc").Batch.Status);
        Assert.Equal(BatchStatus.Cancelled, store.FindBatch("2142912ac7ab").Batch.Status);
        Assert.Equal((BatchStatus.Failed, 2, 1), store.FindBatch("5dc963801324").Batch is var open ? (open.Status, open.Counts.Completed, open.Counts.Failed) : default);
        Assert.Equal(batches.Keys.Order(), store.Batches().Select(b => b.Id).Order());
        Assert.Equal(RunStatus.Timeout, store.LastFinishedOn("local-2")!.Run.Status);
    }

    [Fact]
    public void A_batch_open_in_the_old_state_dir_goes_on_where_it_was()
    {
        string stateDir = CopyFixture("state-22072a7-open");

        RunStore store = Open(stateDir, MovesAtOnce);
        (BatchRecord record, Batch batch) = store.FindBatch("b5151a64dcdf", withItems: true);

        Assert.True(File.Exists(Path.Combine(stateDir, "history", "index.json")));
        Assert.Equal((1, 2), (batch.Counts.Running, batch.Counts.Waiting));
        RunRecord running = Assert.Single(store.Active());
        Assert.Equal("ea26376e9fd7", running.Id);
        Assert.Equal(running.Id, store.TakeNext("local-1", ["local"])!.Id);
        store.Update(running.Id, r => r with { Run = r.Run with { Status = RunStatus.Completed, ExitCode = 0, EndedAt = DateTimeOffset.UtcNow } });
        RunRecord next = store.TakeNext("local-1", ["local"])!;
        Assert.Equal(("after-1", record.Id), (next.Run.PlanEntry, next.Run.BatchId));
        Assert.True(next.Seq > store.List().Where(r => r.Id != next.Id).Max(r => r.Seq));
        Assert.Equal(19, Open(stateDir).List().Count); // 18 before, and the new one
    }
}
