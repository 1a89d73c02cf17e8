using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// The journal is not what this store read before: only a torn tail (bytes after the last newline, a crashed append)
/// is ever cut off. Complete lines it did not read, or a file shorter than what it read, are state_corrupt naming the
/// file and the offset, and nothing is cut: such lines may be another process's acknowledged runs.
/// </summary>
[Trait("Category", "Unit")]
public class JournalMismatchTests
{
    private readonly FaultyDisk _disk = new();

    private string Journal => _disk.Paths.Journal(0);

    [Fact]
    public void Complete_lines_another_writer_appended_during_this_stores_turn_are_never_cut_off()
    {
        RunStore store = _disk.Open();
        Run first = store.Prepare(Request(machine: "m1")).Run;
        long read = _disk.Fs.FileInfo.New(Journal).Length;
        // Another store whose lock is not this one's: a shared mount whose locks are not shared, or a replaced state.lock.
        RunStore other = new(_disk.Fs, new InMemoryFileLocks(), FaultyDisk.Root);
        Run theirs = null!;
        _disk.Plan.Before($"open-write {Journal}", () => theirs = other.Prepare(Request(machine: "m2")).Run);

        DispatchException error = Assert.Throws<DispatchException>(() => store.Prepare(Request(machine: "m3")));

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains(Journal, error.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {read}", error.Message, StringComparison.Ordinal);
        Assert.Equal([theirs.Id, first.Id], _disk.Open().List().Select(r => r.Id));
        // Run again, the store reads their line and goes on.
        Assert.Equal(PrepareKind.Created, store.Prepare(Request(machine: "m3")).Kind);
        Assert.Equal(3, _disk.Open().List().Count);
    }

    [Fact]
    public void A_journal_cut_shorter_than_what_was_read_is_state_corrupt_naming_the_offset_and_is_left_as_it_is()
    {
        RunStore store = _disk.Open();
        store.Prepare(Request(machine: "m1"));
        store.Prepare(Request(machine: "m2"));
        string firstLine = _disk.Fs.File.ReadAllLines(Journal)[0] + "\n";
        _disk.Fs.File.WriteAllText(Journal, firstLine);

        DispatchException error = Assert.Throws<DispatchException>(() => store.Prepare(Request(machine: "m3")));

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Contains(Journal, error.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {firstLine.Length}", error.Message, StringComparison.Ordinal);
        Assert.Equal(firstLine, _disk.Fs.File.ReadAllText(Journal));
    }

    [Fact]
    public void A_journal_cut_between_this_stores_read_and_its_append_is_never_padded_out()
    {
        RunStore store = _disk.Open();
        store.Prepare(Request(machine: "m1"));
        store.Prepare(Request(machine: "m2"));
        string firstLine = _disk.Fs.File.ReadAllLines(Journal)[0] + "\n";
        _disk.Plan.Before($"open-write {Journal}", () => _disk.Fs.File.WriteAllText(Journal, firstLine));

        DispatchException error = Assert.Throws<DispatchException>(() => store.Prepare(Request(machine: "m3")));

        Assert.Equal(ErrorCodes.StateCorrupt, error.ErrorCode);
        Assert.Equal(firstLine, _disk.Fs.File.ReadAllText(Journal));
    }
}
