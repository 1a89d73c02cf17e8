using System.IO.Abstractions;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// The state dir is its user's alone (docs/DESIGN.md §5): made 0700, its files 0600. One that other users may write to, or that
/// another user owns, is refused (state_unsafe), as ssh's StrictModes refuses such a ~/.ssh: whoever can write there can
/// forge runs and their verdicts. One that others may only read is tightened to 0700, and the caller says so once.
/// </summary>
public static class StateDirectory
{
    /// <summary>The group and other bits: none may be set on what the store keeps.</summary>
    public const UnixFileMode Others = (UnixFileMode)0b000_111_111;

    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>
    /// Makes sure the state dir at <paramref name="path"/> exists and is this user's alone, and that its runs/ is there.
    /// Returns the mode it had if it had to be tightened (others could read it), else null.
    /// </summary>
    public static UnixFileMode? Ensure(IFileSystem fs, string path)
    {
        try
        {
            if (fs.File.Exists(path))
            {
                throw new DispatchException(ErrorCodes.StateUnwritable,
                    $"the state dir {path} is a file, not a directory; move it away, or choose another state dir (--state-dir, or StateDir in the configuration)");
            }
            UnixFileMode? tightened = null;
            if (!fs.Directory.Exists(path))
            {
                CreatePrivate(fs, path);
            }
            else
            {
                if (WhyUnsafe(fs, path) is { } why)
                {
                    throw new DispatchException(ErrorCodes.StateUnsafe, why);
                }
                UnixFileMode mode = fs.File.GetUnixFileMode(path);
                if ((mode & Others) != 0)
                {
                    // Only a directory that is the store's own is made private: never a home, /, or a shared folder given by mistake.
                    if (fs.Directory.EnumerateFileSystemEntries(path).Select(e => fs.Path.GetFileName(e)).FirstOrDefault(n => !IsStoreName(n)) is { } stranger)
                    {
                        throw new DispatchException(ErrorCodes.StateUnsafe,
                            $"the state dir {path} is readable by other users (mode {Octal(mode)}) and holds '{stranger}', which is not the store's, so it is " +
                            "not testdispatch's own to make private. Choose a directory of its own (--state-dir, or StateDir in the configuration), " +
                            $"or run 'chmod 700 {path}' yourself.");
                    }
                    fs.File.SetUnixFileMode(path, FileModes.PrivateDirectory);
                    tightened = mode;
                }
            }
            TryCreateRuns(fs, path);
            return tightened;
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Write(path, "create the state dir", e, StorageFailure.NothingRecorded);
        }
    }

    /// <summary>
    /// Makes the directory <paramref name="path"/> (and its missing parents) 0700, whatever the umask: for the state dir
    /// and everything the store and the agent make in it (runs/, runs/&lt;id&gt;/, its artifacts/ and work/).
    /// </summary>
    public static void CreatePrivate(IFileSystem fs, string path)
    {
        string full = fs.Path.GetFullPath(path);
        if (fs.Directory.Exists(full))
        {
            return;
        }
        if (fs.Path.GetDirectoryName(full) is { } parent && !fs.Directory.Exists(parent))
        {
            CreatePrivate(fs, parent);
        }
        if (fs is FileSystem)
        {
            fs.Directory.CreateDirectory(full, FileModes.PrivateDirectory); // never open to others, not even for a moment
        }
        else
        {
            fs.Directory.CreateDirectory(full);
        }
        fs.File.SetUnixFileMode(full, FileModes.PrivateDirectory); // the umask may have taken the owner's bits
    }

    /// <summary>
    /// Why the existing state dir must not be used, with the fix: other users may write to it, or another user owns it.
    /// Null when it is safe (it may still be readable by others: <see cref="Ensure"/> tightens that).
    /// </summary>
    public static string? WhyUnsafe(IFileSystem fs, string path)
    {
        UnixFileMode mode = fs.File.GetUnixFileMode(path);
        Libc.FileStatus? status = fs is FileSystem ? Libc.Stat(path) : null;
        if (status is { } foreign && foreign.Owner != Libc.Geteuid())
        {
            return $"the state dir {path} belongs to {Owner(foreign.Owner)}, not to you ({Owner(Libc.Geteuid())}), mode {Octal(mode)}: another user's runs are not " +
                $"yours to change. Use a state dir of your own (--state-dir, or StateDir in the configuration), or, if it is yours, " +
                $"'chown -R {UserName(Libc.Geteuid()) ?? Libc.Geteuid().ToString(System.Globalization.CultureInfo.InvariantCulture)} {path}' as root.";
        }
        if ((mode & WritableByOthers) != 0)
        {
            string who = (mode & WritableByOthers) == WritableByOthers ? "its group and other users" : (mode & UnixFileMode.GroupWrite) != 0 ? "its group" : "other users";
            string owner = status is { } s ? $", owner {Owner(s.Owner)}" : "";
            return $"the state dir {path} is writable by {who} (mode {Octal(mode)}{owner}): whoever can write there can forge runs and " +
                $"their verdicts. Run 'chmod 700 {path}' (and check that nothing in it was put there by someone else), then the command again.";
        }
        return null;
    }

    /// <summary>
    /// <c>doctor --repair</c> for a state dir others may write to: makes it 0700 if this user owns it (true); one another
    /// user owns is left alone (false), even for root: making it private is its owner's choice.
    /// </summary>
    public static bool MakePrivate(IFileSystem fs, string path)
    {
        if (fs is FileSystem && Libc.Stat(path) is { } status && status.Owner != Libc.Geteuid())
        {
            return false;
        }
        fs.File.SetUnixFileMode(path, FileModes.PrivateDirectory);
        return WhyUnsafe(fs, path) is null;
    }

    /// <summary>Whether a name at the root of a state dir is one the store or the agent makes (docs/DESIGN.md §5).</summary>
    private static bool IsStoreName(string name) =>
        name is "state.lock" or "agent.lock" or "history.lock" or "machines.lock" or "machines.json" or "agent.log" or "snapshot.json" or
            "snapshot.json.tmp" or "runs" or "history" or "batches" or "keeper.sh" or "agent.pid" or "agent.pid.tmp" or "agent.config" or "agent.config.tmp" or
            "reachability.json" or "reachability.json.tmp" or "cm" ||
        name.StartsWith("journal.", StringComparison.Ordinal) && name.EndsWith(".jsonl", StringComparison.Ordinal) ||
        name.StartsWith("keeper.sh.", StringComparison.Ordinal) && name.EndsWith(".tmp", StringComparison.Ordinal) ||
        name.Contains(".corrupt-", StringComparison.Ordinal);

    /// <summary>A mode as ls and chmod write it: 0755.</summary>
    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8).PadLeft(3, '0');

    /// <summary>runs/ is made with the state dir, 0700; best effort, as the agent's own mkdir under it reports a failure where it matters.</summary>
    private static void TryCreateRuns(IFileSystem fs, string root)
    {
        try
        {
            CreatePrivate(fs, fs.Path.Combine(root, "runs"));
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
        }
    }

    private static string Owner(uint uid) => UserName(uid) is { } name ? $"{name} (uid {uid})" : $"uid {uid}";

    private static string? UserName(uint uid)
    {
        try
        {
            string id = uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return File.ReadLines("/etc/passwd").Select(l => l.Split(':')).FirstOrDefault(f => f.Length > 2 && f[2] == id)?[0];
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            return null;
        }
    }
}
