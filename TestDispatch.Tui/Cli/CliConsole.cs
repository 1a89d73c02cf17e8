using TestDispatch.Engine.Processes;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// Where a CLI invocation writes (text, errors, and raw bytes for logs, which may not be text) and how
/// it starts the agent. Program passes the real console; tests pass buffers.
/// </summary>
public sealed record CliConsole(TextWriter Out, TextWriter Error, Stream RawOut)
{
    /// <summary>The command that runs this program, used to start the agent detached.</summary>
    public IReadOnlyList<string> Program { get; init; } = ThisProgram();

    /// <summary>
    /// Called by a command whose output is all it does (a listing, a log): from then on a closed stdout pipe ends the
    /// process, as with any Unix filter (<see cref="BrokenPipe"/>). A no-op for tests, which run commands in their own process.
    /// </summary>
    public Action EndOnBrokenPipe { get; init; } = () => { };

    /// <summary>Says something on stderr that is not an error (what a wait waits for), as "testdispatch: …".</summary>
    public void Note(string note)
    {
        Error.WriteLine($"testdispatch: {note}");
        Error.Flush();
    }

    /// <summary>The command that runs this program: its apphost or native binary, or <c>dotnet testdispatch.dll</c>.</summary>
    private static IReadOnlyList<string> ThisProgram()
    {
        string process = Environment.ProcessPath ?? "dotnet";
        // Under the dotnet host, argv[0] as .NET reports it is the entry assembly's full path (Assembly.Location
        // would say the same, but is empty in a native build).
        return Path.GetFileNameWithoutExtension(process) == "dotnet" && Environment.GetCommandLineArgs() is [{ Length: > 0 } dll, ..]
            ? [process, dll]
            : [process];
    }

    public static CliConsole System() => new(Console.Out, Console.Error, Console.OpenStandardOutput())
    {
        EndOnBrokenPipe = BrokenPipe.EndsThisProcess,
    };
}
