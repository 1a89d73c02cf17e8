using System.IO.Abstractions;
using System.IO.Abstractions.TestingHelpers;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Runs;

public sealed class TestDirHasherTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly FileSystem _fs = new();

    public void Dispose() => _dir.Dispose();

    private string MakeTest(string name, params (string Path, string Content)[] files)
    {
        string root = _dir.Combine(name);
        Directory.CreateDirectory(root);
        foreach ((string path, string content) in files)
        {
            string full = Path.Combine(root, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
        }
        return root;
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void The_same_content_in_another_place_and_creation_order_has_the_same_hash()
    {
        string a = MakeTest("a", ("run.sh", "echo hi"), ("data/x.txt", "1"), ("data/y.txt", "2"));
        string b = MakeTest("elsewhere/b", ("data/y.txt", "2"), ("data/x.txt", "1"), ("run.sh", "echo hi"));

        Assert.Equal(TestDirHasher.Compute(_fs, a), TestDirHasher.Compute(_fs, b));
        Assert.Matches("^[0-9a-f]{64}$", TestDirHasher.Compute(_fs, a));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void Changing_a_byte_a_name_or_a_mode_changes_the_hash()
    {
        string dir = MakeTest("t", ("run.sh", "echo hi"), ("data/x.txt", "1"));
        string original = TestDirHasher.Compute(_fs, dir);

        File.WriteAllText(Path.Combine(dir, "data/x.txt"), "2");
        string changedByte = TestDirHasher.Compute(_fs, dir);
        File.WriteAllText(Path.Combine(dir, "data/x.txt"), "1");
        Assert.Equal(original, TestDirHasher.Compute(_fs, dir));

        File.Move(Path.Combine(dir, "data/x.txt"), Path.Combine(dir, "data/z.txt"));
        string changedName = TestDirHasher.Compute(_fs, dir);
        File.Move(Path.Combine(dir, "data/z.txt"), Path.Combine(dir, "data/x.txt"));

        File.SetUnixFileMode(Path.Combine(dir, "run.sh"), File.GetUnixFileMode(Path.Combine(dir, "run.sh")) | UnixFileMode.UserExecute);
        string changedMode = TestDirHasher.Compute(_fs, dir);

        Assert.Equal(4, new[] { original, changedByte, changedName, changedMode }.Distinct().Count());
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void Moving_content_between_names_changes_the_hash()
    {
        string a = MakeTest("a", ("x", "ab"), ("y", ""));
        string b = MakeTest("b", ("x", "a"), ("y", "b"));

        Assert.NotEqual(TestDirHasher.Compute(_fs, a), TestDirHasher.Compute(_fs, b));
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void An_empty_subdirectory_and_a_symlink_count_and_symlinks_are_not_followed()
    {
        string dir = MakeTest("t", ("run.sh", "echo"));
        string before = TestDirHasher.Compute(_fs, dir);

        Directory.CreateDirectory(Path.Combine(dir, "empty"));
        string withEmptyDir = TestDirHasher.Compute(_fs, dir);
        File.CreateSymbolicLink(Path.Combine(dir, "loop"), dir);
        string withLink = TestDirHasher.Compute(_fs, dir);

        Assert.Equal(3, new[] { before, withEmptyDir, withLink }.Distinct().Count());
    }

    [Fact]
    [Trait("Category", "Integration")]
    public void A_file_larger_than_the_buffer_is_streamed_and_hashed_whole()
    {
        string dir = MakeTest("big");
        byte[] content = new byte[(1 << 20) + 7];
        Random.Shared.NextBytes(content);
        File.WriteAllBytes(Path.Combine(dir, "blob"), content);
        string first = TestDirHasher.Compute(_fs, dir);

        content[^1] ^= 0xff;
        File.WriteAllBytes(Path.Combine(dir, "blob"), content);

        Assert.NotEqual(first, TestDirHasher.Compute(_fs, dir));
    }

    [Fact]
    [Trait("Category", "Unit")]
    public void A_missing_directory_is_test_dir_not_found_naming_the_path()
    {
        DispatchException error = Assert.Throws<DispatchException>(() => TestDirHasher.Compute(new MockFileSystem(), "/no/such/test"));

        Assert.Equal(ErrorCodes.TestDirNotFound, error.ErrorCode);
        Assert.Contains("/no/such/test", error.Message, StringComparison.Ordinal);
    }
}
