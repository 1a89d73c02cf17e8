namespace TestDispatch.Engine.IO;

/// <summary>
/// Named steps where the crash tests SIGKILL the process (TESTDISPATCH_CRASH_AT=step): of a multi-file write, to check that
/// the store loads with everything acknowledged whichever step a crash hits; and of a run's launch and end in the agent, to
/// check that the next agent takes the run over whatever instant the last one died at. Costs one string compare otherwise.
/// </summary>
public static class CrashPoints
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
