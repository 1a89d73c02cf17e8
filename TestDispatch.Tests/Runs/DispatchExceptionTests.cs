using TestDispatch.Engine.Errors;

namespace TestDispatch.Tests.Runs;

/// <summary>The faces' last resort: any failure becomes a coded error, never a stack trace.</summary>
[Trait("Category", "Unit")]
public class DispatchExceptionTests
{
    [Fact]
    public void A_full_disk_outside_the_store_is_disk_full()
    {
        DispatchException coded = DispatchException.From(new IOException("No space left on device : '/var/log/x'", 28));

        Assert.Equal(ErrorCodes.DiskFull, coded.ErrorCode);
        Assert.Contains("/var/log/x", coded.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_io_failure_is_io_error_with_the_system_message()
    {
        DispatchException coded = DispatchException.From(new UnauthorizedAccessException("Access to the path '/x' is denied."));

        Assert.Equal((ErrorCodes.IoError, false), (coded.ErrorCode, coded.IsBadInput));
        Assert.StartsWith("Access to the path '/x' is denied", coded.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Anything_else_is_internal_error_naming_the_exception_and_a_coded_error_stays_itself()
    {
        DispatchException known = new(ErrorCodes.MachineBusy, "busy");

        Assert.Same(known, DispatchException.From(known));
        DispatchException bug = DispatchException.From(new InvalidOperationException("Sequence contains no elements"));
        Assert.Equal(ErrorCodes.InternalError, bug.ErrorCode);
        Assert.Contains("InvalidOperationException: Sequence contains no elements", bug.Message, StringComparison.Ordinal);
    }
}
