using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Storage;

/// <summary>
/// The real fsync: libc's, whose failure .NET's own wrapper hides (docs/DISK.md). fsync of /dev/null fails with EINVAL
/// on Linux, as it fails on a pipe, which shows that a failed fsync is seen; a real file's succeeds.
/// </summary>
[Trait("Category", "Integration")]
public sealed class LibcFsyncTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_failed_fsync_is_reported_with_its_errno_where_the_runtime_reports_none()
    {
        using FileStream devNull = new("/dev/null", FileMode.Open, FileAccess.Write);
        devNull.Flush(flushToDisk: true); // the runtime's fsync: fails underneath, and says nothing

        int errno = LibcFsync.Instance.File(devNull);

        Assert.Equal(22, errno); // EINVAL
    }

    [Fact]
    public void A_failed_fsync_becomes_a_coded_error_naming_the_file()
    {
        using FileStream devNull = new("/dev/null", FileMode.Open, FileAccess.Write);

        DispatchException error = Assert.Throws<DispatchException>(() => new Durability(LibcFsync.Instance).Sync(devNull, "/dev/null", "Nothing was recorded."));

        Assert.Equal(ErrorCodes.StateUnwritable, error.ErrorCode);
        Assert.Contains("/dev/null", error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was recorded.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_and_its_directory_fsync_on_a_real_disk()
    {
        string path = _dir.Combine("journal.0.jsonl");
        using FileStream file = new(path, FileMode.Create, FileAccess.Write);
        file.Write("{}\n"u8);

        Assert.Equal(0, LibcFsync.Instance.File(file));
        Assert.Equal(0, LibcFsync.Instance.Directory(_dir.Path));
        Assert.Equal(2, LibcFsync.Instance.Directory(_dir.Combine("gone"))); // ENOENT: a missing directory is a failure too
    }
}
