namespace TestDispatch.Engine.Transports;

/// <summary>
/// Copies a test dir into a run's work dir as <c>cp -a</c> would, in-process (a cp process per run cost
/// more than the rest of a trivial run): every entry, dotfiles too; files with their bytes, permission
/// bits (setuid/setgid/sticky included) and modification time; directories with their mode and time;
/// symlinks as symlinks with their target text, never followed.
/// </summary>
public static class TestDirCopier
{
    private const UnixFileMode PermissionBits = (UnixFileMode)0b111_111_111;

    // The parameterless EnumerateFileSystemInfos would do the same; spelled out because the default
    // EnumerationOptions skips "hidden" (dot) files on Unix.
    private static readonly EnumerationOptions Everything = new() { AttributesToSkip = 0, IgnoreInaccessible = false };

    private const UnixFileMode ExecuteBits = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// Copies the content of <paramref name="source"/> into the existing directory <paramref name="destination"/>. Files
    /// that can be executed are written holding <paramref name="executables"/>, which whoever starts processes in this
    /// process holds while it forks: a child forked while such a file is open for writing keeps it open until it execs,
    /// and an exec of that file meanwhile fails with "Text file busy".
    /// </summary>
    /// <exception cref="IOException">Or <see cref="UnauthorizedAccessException"/>: an entry could not be read or written.</exception>
    public static void Copy(string source, string destination, Lock executables)
    {
        foreach (FileSystemInfo entry in new DirectoryInfo(source).EnumerateFileSystemInfos("*", Everything))
        {
            string target = Path.Combine(destination, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo directory)
            {
                Directory.CreateDirectory(target);
                Copy(directory.FullName, target, executables);
                File.SetUnixFileMode(target, directory.UnixFileMode);
                Directory.SetLastWriteTimeUtc(target, directory.LastWriteTimeUtc);
            }
            else
            {
                // File.Copy keeps the permission bits and times, but not the setuid/setgid/sticky bits.
                if ((entry.UnixFileMode & ExecuteBits) != 0)
                {
                    lock (executables)
                    {
                        File.Copy(entry.FullName, target);
                    }
                }
                else
                {
                    File.Copy(entry.FullName, target);
                }
                if ((entry.UnixFileMode & ~PermissionBits) != 0)
                {
                    File.SetUnixFileMode(target, entry.UnixFileMode);
                }
            }
        }
    }
}
