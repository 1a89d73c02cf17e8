using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// Points the agent's own stdin/stdout/stderr at /dev/null and agent.log (dup2 over fds 0–2), so a
/// detached agent never writes to a terminal that went away, and its starter's pipes close at once.
/// Returns a writer to agent.log, also made Console.Out/Error: .NET's console holds its own duplicate
/// of the original fd 1, which dup2 does not reach.
/// </summary>
public static class AgentConsole
{
    public static TextWriter RedirectTo(string logPath)
    {
        using (Microsoft.Win32.SafeHandles.SafeFileHandle log = Libc.Open(logPath, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND, 0b110_000_000))
        {
            Libc.Dup2(log, 1);
            Libc.Dup2(log, 2);
        }
        using Microsoft.Win32.SafeHandles.SafeFileHandle nothing = Libc.Open("/dev/null", Libc.O_RDONLY, 0);
        Libc.Dup2(nothing, 0);

        // O_APPEND, as every writer of agent.log opens it (a keeper, a second agent that finds the lock held): .NET's own
        // FileMode.Append only seeks to the end once, and two writers then write over each other's lines.
        Microsoft.Win32.SafeHandles.SafeFileHandle appending = Libc.Open(logPath, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_APPEND, 0b110_000_000);
        StreamWriter writer = new(new FileStream(appending, FileAccess.Write, bufferSize: 0)) { AutoFlush = true };
        TextWriter synchronized = TextWriter.Synchronized(new BestEffortWriter(writer));
        Console.SetOut(synchronized);
        Console.SetError(synchronized);
        return synchronized;
    }
}

/// <summary>
/// agent.log as the agent writes it: a line that cannot be written (the disk is full) is dropped, never thrown, so
/// a full disk cannot take the agent down through its own log; the runs it follows matter more than the lines.
/// </summary>
internal sealed class BestEffortWriter(TextWriter inner) : TextWriter
{
    public override System.Text.Encoding Encoding => inner.Encoding;

    public override void Write(char value) => Try(() => inner.Write(value));

    public override void Write(string? value) => Try(() => inner.Write(value));

    public override void WriteLine(string? value) => Try(() => inner.WriteLine(value));

    public override void Flush() => Try(inner.Flush);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Try(inner.Dispose);
        }
        base.Dispose(disposing);
    }

    private static void Try(Action write)
    {
        try
        {
            write();
        }
        catch (IOException)
        {
        }
    }
}

