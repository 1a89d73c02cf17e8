using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// state.lock deleted while held (someone cleaning up "stale" lock files): the next process makes a new lock file and
/// locks it, while waiters still queue on the old one. A waiter granted the old file must notice it is no longer the
/// one at the path and queue on the new one, or two processes would write the store at once.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LockFileReplacementTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new();
    private readonly FlockFileLocks _locks = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_waiter_granted_a_lock_file_that_was_replaced_waits_for_the_holder_of_the_new_one()
    {
        string path = _dir.Combine("state.lock");
        IDisposable oldHolder = _locks.Acquire(path, TimeSpan.FromSeconds(1));
        Task<IDisposable> waiter = Task.Run(() => _locks.Acquire(path, Deadline));
        await Eventually.True(() => DescriptorsOf(path).Count == 2, what: "the waiter to open the lock file");
        File.Delete(path);
        IDisposable newHolder = _locks.TryAcquire(path) ?? throw new InvalidOperationException("the new lock file is locked by no one, yet TryAcquire failed");

        oldHolder.Dispose();

        // The waiter lets go of the deleted file (a waiter that kept it would have the lock, and so would newHolder).
        await Eventually.True(() => !DescriptorsOf(path).Any(d => d.EndsWith(" (deleted)", StringComparison.Ordinal)), what: "the waiter to let go of the deleted lock file");
        Assert.False(waiter.IsCompleted, "the waiter took a lock on a deleted lock file while another process held the one at the path");
        newHolder.Dispose();
        using IDisposable granted = await waiter.WaitAsync(Deadline);
        Assert.Null(_locks.TryAcquire(path));
    }

    [Fact]
    public async Task A_store_waiting_for_a_killed_holder_of_a_replaced_lock_file_waits_for_the_new_holder_process()
    {
        StatePaths paths = new(_dir.Path);
        RunStore store = new(new System.IO.Abstractions.FileSystem(), _locks, _dir.Path, options: new StoreOptions { LockTimeout = Deadline });
        store.Refresh(); // loaded: its next lock is the one it writes under
        await using FixtureProgram oldHolder = FixtureProgram.Start("hold-lock", _dir.Path);
        await oldHolder.WaitForLinesAsync(lines => lines.Contains("locked"), Deadline);
        Task<PrepareOutcome> prepare = Task.Run(() => store.Prepare(TestRuns.Request()));
        await Eventually.True(() => DescriptorsOf(paths.StateLock).Count == 1, what: "the store to wait on state.lock");
        File.Delete(paths.StateLock);
        await using FixtureProgram newHolder = FixtureProgram.Start("hold-lock", _dir.Path);
        await newHolder.WaitForLinesAsync(lines => lines.Contains("locked"), Deadline);

        await oldHolder.KillAsync();

        await Eventually.True(() => !DescriptorsOf(paths.StateLock).Any(d => d.EndsWith(" (deleted)", StringComparison.Ordinal)), what: "the store to let go of the deleted state.lock");
        Assert.False(File.Exists(paths.Journal(0)), "the store wrote while another process held the state.lock now at the path");
        await newHolder.KillAsync();
        Assert.Equal(PrepareKind.Created, (await prepare.WaitAsync(Deadline)).Kind);
    }

    [Fact]
    public async Task Deleting_state_lock_while_a_process_holds_the_store_lets_no_other_process_write()
    {
        StatePaths paths = new(_dir.Path);
        RunStore store = new(new System.IO.Abstractions.FileSystem(), _locks, _dir.Path, options: new StoreOptions { LockTimeout = Deadline });
        store.Refresh();
        using CancellationTokenSource holding = new(Deadline);
        // A process inside its critical section holds the store's lock as every testdispatch does: the state dir, then state.lock.
        CliWrap.CommandTask<CliWrap.CommandResult> holder = CliWrap.Cli.Wrap("flock")
            .WithArguments([_dir.Path, "flock", paths.StateLock, "sleep", "60"])
            .WithValidation(CliWrap.CommandResultValidation.None)
            .ExecuteAsync(holding.Token);
        await Eventually.True(() => _locks.TryAcquire(paths.StateLock) is not { } free || Release(free) is false, what: "the outside holder to take the lock");

        File.Delete(paths.StateLock); // "a stale lock", cleaned up by a user or a tmp cleaner
        Task<PrepareOutcome> prepare = Task.Run(() => store.Prepare(TestRuns.Request()));
        await Eventually.True(() => DescriptorsOf(_dir.Path).Any(d => d == _dir.Path), what: "the store to wait for the lock");
        bool wroteMeanwhile = prepare.IsCompleted || File.Exists(paths.Journal(0));
        await holding.CancelAsync();
        PrepareOutcome outcome = await prepare.WaitAsync(Deadline);

        Assert.False(wroteMeanwhile, "the store wrote while another process held it, after state.lock was deleted");
        Assert.Equal(PrepareKind.Created, outcome.Kind);
        await holder.Task.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static bool Release(IDisposable held)
    {
        held.Dispose();
        return true;
    }

    /// <summary>This process's open descriptors of <paramref name="path"/>, as /proc shows their targets ("… (deleted)" once unlinked).</summary>
    private static List<string> DescriptorsOf(string path)
    {
        List<string> targets = [];
        // Entries, not files: a descriptor of a directory (the state dir's lock) is a link to a directory.
        foreach (string fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(path, StringComparison.Ordinal))
                {
                    targets.Add(target);
                }
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }
        return targets;
    }
}
