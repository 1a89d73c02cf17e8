using Microsoft.Extensions.FileSystemGlobbing.Abstractions;

namespace TestDispatch.Engine.Results;

/// <summary>
/// A directory as the glob matcher sees it, which never leaves its tree: symbolic links are not listed or
/// entered, and ".." leads nowhere. So no pattern reaches a file outside the work dir, nor loops through a link to ".".
/// </summary>
internal sealed class TreeDirectory(DirectoryInfo directory, TreeDirectory? parent) : DirectoryInfoBase
{
    private static readonly EnumerationOptions Entries = new()
    {
        AttributesToSkip = FileAttributes.ReparsePoint,
        IgnoreInaccessible = true,
    };

    public override string Name => directory.Name;

    public override string FullName => directory.FullName;

    public override DirectoryInfoBase? ParentDirectory => parent;

    public override IEnumerable<FileSystemInfoBase> EnumerateFileSystemInfos()
    {
        if (!directory.Exists)
        {
            return [];
        }
        return directory.EnumerateFileSystemInfos("*", Entries).Select(FileSystemInfoBase (entry) => entry switch
        {
            DirectoryInfo child => new TreeDirectory(child, this),
            _ => new FileInfoWrapper((FileInfo)entry),
        });
    }

    public override DirectoryInfoBase? GetDirectory(string path)
    {
        if (path == ".")
        {
            return this;
        }
        DirectoryInfo child = new(Path.Combine(directory.FullName, path));
        return IsChild(path) && child.Exists && child.LinkTarget is null ? new TreeDirectory(child, this) : null;
    }

    public override FileInfoBase? GetFile(string path)
    {
        FileInfo child = new(Path.Combine(directory.FullName, path));
        return IsChild(path) && child.LinkTarget is null ? new FileInfoWrapper(child) : null;
    }

    private static bool IsChild(string name) =>
        name.Length > 0 && name is not ("." or "..") && name.IndexOfAny(['/', '\\']) < 0;
}
