using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// Named steps of a multi-file write where the crash tests SIGKILL the process (TESTDISPATCH_CRASH_AT=step), to check
/// that the store loads with everything acknowledged whichever step a crash hits. Costs one string compare otherwise.
/// </summary>
internal static class CrashPoints
{
    private static readonly string? At = Environment.GetEnvironmentVariable("TESTDISPATCH_CRASH_AT");

    public static void Reached(string step)
    {
        if (At is not null && At == step)
        {
            Libc.Kill(Environment.ProcessId, 9);
        }
    }
}
