using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Processes;

/// <summary>
/// .NET ignores SIGPIPE, and its console drops a write to a closed pipe without a word: <c>testdispatch runs | head</c>
/// went on formatting the whole of history (seconds at a million runs) for no reader. A command whose output is all it
/// does can end as any Unix filter does: killed by SIGPIPE at the first write after its reader is gone (the shell's
/// status 141). Not for a process that also writes to pipes of its own children, which may close first.
/// </summary>
public static class BrokenPipe
{
    public static void EndsThisProcess() => Libc.RestoreDefaultSigpipe();
}
