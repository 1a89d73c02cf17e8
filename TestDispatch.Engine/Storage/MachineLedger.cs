using System.IO.Abstractions;
using System.Text.Json;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Machines;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// machines.json: the fleet's record of its machines (drained, health, dirty, last verdicts), beside the runs' store and
/// apart from it. It is small (a few hundred bytes a machine, whatever the history), so each change replaces it whole,
/// atomically (temp, fsync, rename, fsync dir) while holding machines.lock; a reader needs no lock and sees the old or
/// the new file. Lock order: machines.lock may be held while taking state.lock, never the other way round.
/// </summary>
public sealed class MachineLedger(IFileSystem fs, IFileLocks locks, StatePaths paths, IFsync? fsync = null)
{
    private readonly Durability _durability = new(fsync ?? LibcFsync.For(fs));

    public string Path => fs.Path.Combine(paths.Root, "machines.json");

    private string TempPath => Path + ".tmp";

    private string LockPath => fs.Path.Combine(paths.Root, "machines.lock");

    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The fleet as last written; empty when nothing was ever recorded.</summary>
    public FleetRecord Read()
    {
        byte[] bytes;
        try
        {
            if (!fs.File.Exists(Path))
            {
                return FleetRecord.Empty;
            }
            bytes = fs.File.ReadAllBytes(Path);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Read(Path, e);
        }
        try
        {
            return JsonSerializer.Deserialize(bytes, StoreJson.Default.FleetRecord) ?? FleetRecord.Empty;
        }
        catch (JsonException e)
        {
            throw StateCorruption.At(Path, $"not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the latest record under machines.lock and writes the result durably before
    /// returning it. Returning the same record writes nothing.
    /// </summary>
    public FleetRecord Change(Func<FleetRecord, FleetRecord> change)
    {
        using IDisposable held = Acquire();
        FleetRecord before = Read();
        FleetRecord after = change(before);
        if (!ReferenceEquals(after, before))
        {
            Write(after);
        }
        return after;
    }

    private IDisposable Acquire()
    {
        try
        {
            return locks.Acquire(LockPath, LockTimeout);
        }
        catch (TimeoutException e)
        {
            throw new DispatchException(ErrorCodes.StateLocked,
                $"{e.Message}. Another testdispatch process is stuck holding it; find it with 'fuser {LockPath}'.", inner: e);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Lock(LockPath, e);
        }
    }

    private void Write(FleetRecord fleet)
    {
        const string Unchanged = "The machines' record was not changed.";
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(fleet, StoreJson.Default.FleetRecord);
        try
        {
            using (FileSystemStream stream = fs.FileStream.New(TempPath, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                stream.Write(bytes);
                stream.Flush();
                _durability.Sync(stream, TempPath, Unchanged);
            }
            fs.File.Move(TempPath, Path, overwrite: true);
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Write(Path, "replace", e, Unchanged);
        }
        _durability.SyncDirectory(paths.Root, "The machines' record was changed, but the change may not survive a power cut.");
    }
}
