using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine;

/// <summary>
/// The one domain exception: carries a stable <see cref="ErrorCodes"/> string that the CLI maps to its
/// exit code and the TUI shows on its message line. <see cref="IsBadInput"/> says the user can fix it.
/// </summary>
public sealed class DispatchException(string errorCode, string message, Run? run = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string ErrorCode { get; } = errorCode;

    /// <summary>The run the error is about, when there is one (the occupying run for machine_busy).</summary>
    public Run? Run { get; } = run;

    public bool IsBadInput => ErrorCodes.IsBadInput(ErrorCode);
}
