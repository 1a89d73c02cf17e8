using System.IO.Abstractions;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// Wakes waiters as soon as something in the state dir changes (inotify, through FileSystemWatcher),
/// so the agent and followers react at once instead of on the next poll. The poll timeout stays as the
/// safety net: watchers can overflow, and fake file systems have none.
/// </summary>
public sealed class StoreWatcher : IDisposable
{
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly IFileSystemWatcher? _watcher;

    public StoreWatcher(IFileSystem fs, string stateDir)
    {
        if (fs is not FileSystem)
        {
            return;
        }
        _watcher = fs.FileSystemWatcher.New(stateDir);
        _watcher.NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size;
        _watcher.Changed += (_, _) => Wake();
        _watcher.Created += (_, _) => Wake();
        _watcher.Renamed += (_, _) => Wake();
        _watcher.EnableRaisingEvents = true;
    }

    /// <summary>Waits until the next change or <paramref name="timeout"/>, whichever comes first.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        await _changed.WaitAsync(timeout, cancellationToken);

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
