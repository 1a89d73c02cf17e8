using System.IO.Abstractions;

namespace TestDispatch.Engine.IO;

/// <summary>
/// Wakes waiters as soon as something in the state dir changes (inotify, through FileSystemWatcher),
/// so the agent and followers react at once instead of on the next poll. The poll timeout stays as the
/// safety net: watchers can overflow, fake file systems have none, and inotify may not be had at all
/// (the default limit is 128 instances per user: 130 parallel 'run --wait' from a CI script reach it).
/// Then the waiters just poll: nothing fails for want of inotify.
/// </summary>
public sealed class DirectoryWatcher : IDisposable
{
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly IFileSystemWatcher? _watcher;
    private readonly IReadOnlySet<string>? _wakesFor;

    /// <param name="wakesFor">The names whose changes wake the waiter (null: every name).</param>
    public DirectoryWatcher(IFileSystem fs, string stateDir, NotifyFilters changes = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
        IReadOnlySet<string>? wakesFor = null)
    {
        _wakesFor = wakesFor;
        if (fs is not FileSystem)
        {
            return;
        }
        IFileSystemWatcher? watcher = null;
        try
        {
            watcher = fs.FileSystemWatcher.New(stateDir);
            watcher.NotifyFilter = changes;
            watcher.Changed += (_, e) => WakeFor(e.Name);
            watcher.Created += (_, e) => WakeFor(e.Name);
            watcher.Renamed += (_, e) => WakeFor(e.Name);
            watcher.Error += (_, _) => Wake(); // an overflow: something changed, look now
            watcher.EnableRaisingEvents = true;
            _watcher = watcher;
        }
        catch (Exception e)
        {
            // inotify_init or inotify_add_watch refused (EMFILE, ENOSPC, ENOMEM): poll instead.
            watcher?.Dispose();
            WhyPolling = e.Message;
        }
    }

    /// <summary>
    /// Why changes are seen only by polling on the real disk (inotify could not be had: the system's message), or null
    /// when they wake waiters at once. The agent says it once in agent.log.
    /// </summary>
    public string? WhyPolling { get; }

    /// <summary>Waits until the next change or <paramref name="timeout"/>, whichever comes first.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        await _changed.WaitAsync(timeout, cancellationToken);

    private void WakeFor(string? name)
    {
        if (_wakesFor is null || name is null || _wakesFor.Contains(name))
        {
            Wake();
        }
    }

    /// <summary>Wakes the waiter as a change would: for events of this process that touch no file.</summary>
    public void Wake()
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
        }
        catch (ObjectDisposedException)
        {
            // Woken after the waiter left: nobody to wake.
        }
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _changed.Dispose();
    }
}
