using System.CommandLine;
using TestDispatch.Engine;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// The scriptable CLI (DESIGN §9): parses arguments into engine calls. Bad arguments exit 2 with the
/// parser's message; engine errors print their code and message on stderr and exit with their code.
/// </summary>
public static class CliApp
{
    public static RootCommand BuildRoot()
    {
        GlobalOptions global = new();
        RootCommand root = new("TestDispatch: dispatch test directories to lab machines, follow their logs, browse history.");
        root.Options.Add(global.StateDir);
        root.Options.Add(global.Config);
        root.Subcommands.Add(MachinesCommand.Build(global));
        root.Subcommands.Add(RunsCommand.Build(global));
        root.Subcommands.Add(ShowCommand.Build(global));
        return root;
    }

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        ParseResult parse = BuildRoot().Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (System.CommandLine.Parsing.ParseError parseError in parse.Errors)
            {
                await error.WriteLineAsync($"testdispatch: {parseError.Message}");
            }
            await error.WriteLineAsync("Run 'testdispatch --help' (or 'testdispatch COMMAND --help') for usage.");
            return ExitCodes.BadInput;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                Output = output,
                Error = error,
                EnableDefaultExceptionHandler = false,
            }, cancellationToken);
        }
        catch (DispatchException e)
        {
            await error.WriteLineAsync($"testdispatch: {e.ErrorCode}: {e.Message}");
            return ExitCodes.For(e);
        }
    }
}
