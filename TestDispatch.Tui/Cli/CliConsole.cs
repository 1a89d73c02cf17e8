using TestDispatch.Engine.Execution;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// Where a CLI invocation writes (text, errors, and raw bytes for logs, which may not be text) and how
/// it starts the agent. Program passes the real console; tests pass buffers.
/// </summary>
public sealed record CliConsole(TextWriter Out, TextWriter Error, Stream RawOut)
{
    /// <summary>The command that runs this program, used to start the agent detached.</summary>
    public IReadOnlyList<string> Program { get; init; } = AgentLauncher.ThisProgram();

    public static CliConsole System() => new(Console.Out, Console.Error, Console.OpenStandardOutput());
}
