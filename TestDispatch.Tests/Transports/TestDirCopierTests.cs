using System.IO.Abstractions;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Transports;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Transports;

public sealed class TestDirCopierTests : IDisposable
{
    private static readonly DateTime LongAgo = new(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private (string Source, string Work) Dirs()
    {
        string source = _dir.Combine("test");
        string work = _dir.Combine("work");
        Directory.CreateDirectory(source);
        Directory.CreateDirectory(work);
        return (source, work);
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void A_copy_has_the_same_content_hash_as_its_source()
    {
        (string source, string work) = Dirs();
        File.WriteAllText(Path.Combine(source, "run.sh"), "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(Path.Combine(source, "run.sh"), (UnixFileMode)0b111_101_000);
        File.WriteAllText(Path.Combine(source, ".hidden"), "dot");
        Directory.CreateDirectory(Path.Combine(source, "data", "empty"));
        File.WriteAllBytes(Path.Combine(source, "data", "blob"), [0, 1, 2, 255]);
        File.SetUnixFileMode(Path.Combine(source, "data", "blob"), (UnixFileMode)0b100_000_000);
        File.CreateSymbolicLink(Path.Combine(source, "link"), "data/blob");
        File.CreateSymbolicLink(Path.Combine(source, "dangling"), "../nowhere/at all");

        TestDirCopier.Copy(source, work, new Lock());

        FileSystem fs = new();
        Assert.Equal(TestDirHasher.Compute(fs, source), TestDirHasher.Compute(fs, work));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void Symlinks_are_copied_as_links_with_their_target_text_never_followed()
    {
        (string source, string work) = Dirs();
        Directory.CreateDirectory(Path.Combine(source, "real"));
        File.WriteAllText(Path.Combine(source, "real", "inside"), "x");
        Directory.CreateSymbolicLink(Path.Combine(source, "dirlink"), "real");
        File.CreateSymbolicLink(Path.Combine(source, "outside"), "/etc/hostname");

        TestDirCopier.Copy(source, work, new Lock());

        Assert.Equal("real", new DirectoryInfo(Path.Combine(work, "dirlink")).LinkTarget);
        Assert.Equal("/etc/hostname", new FileInfo(Path.Combine(work, "outside")).LinkTarget);
        Assert.Equal(["dirlink", "outside", "real"], Directory.EnumerateFileSystemEntries(work).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void Modification_times_and_special_mode_bits_are_kept()
    {
        (string source, string work) = Dirs();
        string tool = Path.Combine(source, "sub", "tool");
        Directory.CreateDirectory(Path.GetDirectoryName(tool)!);
        File.WriteAllText(tool, "x");
        File.SetUnixFileMode(tool, UnixFileMode.SetUser | (UnixFileMode)0b111_101_101);
        File.SetLastWriteTimeUtc(tool, LongAgo);
        Directory.SetLastWriteTimeUtc(Path.Combine(source, "sub"), LongAgo);
        File.SetUnixFileMode(Path.Combine(source, "sub"), (UnixFileMode)0b111_000_000);

        TestDirCopier.Copy(source, work, new Lock());

        Assert.Equal(UnixFileMode.SetUser | (UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Combine(work, "sub", "tool")));
        Assert.Equal(LongAgo, File.GetLastWriteTimeUtc(Path.Combine(work, "sub", "tool")));
        Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(Path.Combine(work, "sub")));
        Assert.Equal(LongAgo, Directory.GetLastWriteTimeUtc(Path.Combine(work, "sub")));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void Hostile_entry_names_are_copied_as_they_are()
    {
        (string source, string work) = Dirs();
        string[] names = ["with space", "quote'single\"double", "$(touch PWNED)", "new\nline", "-leading-dash", "*"];
        foreach (string name in names)
        {
            File.WriteAllText(Path.Combine(source, name), name);
        }

        TestDirCopier.Copy(source, work, new Lock());

        Assert.All(names, name => Assert.Equal(name, File.ReadAllText(Path.Combine(work, name))));
        Assert.Equal(names.Length, Directory.EnumerateFileSystemEntries(work).Count());
    }
}
