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

    /// <summary>Copies the content of <paramref name="source"/> into the existing directory <paramref name="destination"/>.</summary>
    /// <exception cref="IOException">Or <see cref="UnauthorizedAccessException"/>: an entry could not be read or written.</exception>
    public static void Copy(string source, string destination)
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
                Copy(directory.FullName, target);
                File.SetUnixFileMode(target, directory.UnixFileMode);
                Directory.SetLastWriteTimeUtc(target, directory.LastWriteTimeUtc);
            }
            else
            {
                // File.Copy keeps the permission bits and times, but not the setuid/setgid/sticky bits.
                File.Copy(entry.FullName, target);
                if ((entry.UnixFileMode & ~PermissionBits) != 0)
                {
                    File.SetUnixFileMode(target, entry.UnixFileMode);
                }
            }
        }
    }
}
