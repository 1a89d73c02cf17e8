using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// The scriptable CLI (docs/DESIGN.md §9): parses arguments into engine calls. Bad arguments exit 2 with the
/// parser's message; engine errors print their code and message on stderr and exit with their code, and so does
/// any other failure (as io_error or internal_error, exit 4): no command ends with a stack trace.
/// </summary>
public static class CliApp
{
    public static RootCommand BuildRoot(CliConsole console)
    {
        GlobalOptions global = new(console);
        RootCommand root = new("TestDispatch: dispatch test directories to lab machines, follow their logs, browse history.");
        root.Options.Add(global.StateDir);
        root.Options.Add(global.Config);
        root.Subcommands.Add(MachinesCommand.Build(global));
        root.Subcommands.Add(MachineCommand.Build(global));
        root.Subcommands.Add(RunCommand.Build(global));
        root.Subcommands.Add(RunsCommand.Build(global));
        root.Subcommands.Add(ShowCommand.Build(global));
        root.Subcommands.Add(HistoryCommand.Build(global));
        root.Subcommands.Add(LogsCommand.Build(global));
        root.Subcommands.Add(GrepCommand.Build(global));
        root.Subcommands.Add(DiffCommand.Build(global));
        root.Subcommands.Add(CancelCommand.Build(global));
        root.Subcommands.Add(BatchCommand.Build(global));
        root.Subcommands.Add(AgentCommand.Build(global));
        root.Subcommands.Add(DoctorCommand.Build(global));
        root.Subcommands.Add(PruneCommand.Build(global));
        root.SetAction((parse, cancellationToken) => Task.FromResult(OpenApp(parse, cancellationToken)));
        return root;

        // No command: on a terminal, the full-screen app; otherwise (a pipe, a script) the help.
        int OpenApp(ParseResult parse, CancellationToken cancellationToken)
        {
            if (Console.IsInputRedirected || Console.IsOutputRedirected || console.Out != Console.Out)
            {
                return new System.CommandLine.Help.HelpAction().Invoke(parse);
            }
            Lab lab = global.OpenLab(parse);
            // Recovery reads the whole store: let the first screen come first.
            _ = Task.Run(() => lab.EnsureAgentAsync(cancellationToken), cancellationToken);
            return App.TuiApp.Run(lab, cancellationToken);
        }
    }

    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken = default)
    {
        ParseResult parse = BuildRoot(console).Parse(args);
        IReadOnlyList<(string Word, string Message)> unknown = UnknownWords.Find(parse);
        if (parse.Errors.Count > 0 || unknown.Count > 0)
        {
            // Every line is a coded error line, like any other failure's; the last says that nothing was done.
            string[] messages = [.. unknown.Select(u => u.Message)
                .Concat(parse.Errors.Where(e => !unknown.Any(u => e.Message.Contains($"'{u.Word}'", StringComparison.Ordinal)))
                    .Select(e => ParseErrors.Describe(e, parse)))
                .Distinct()];
            string help = UnknownWords.CommandPath(parse.CommandResult) is var command && command != "testdispatch" ? $"testdispatch {command} --help" : "testdispatch --help";
            for (int i = 0; i < messages.Length; i++)
            {
                string message = messages[i].TrimEnd('.');
                await console.Error.WriteLineAsync($"testdispatch: {ErrorCodes.BadInput}: {message}" + (i < messages.Length - 1 ? ""
                    : message.EndsWith('?') ? $" Nothing was done ('{help}' shows the usage)." : $"; nothing was done ('{help}' shows the usage)"));
            }
            return ExitCodes.BadInput;
        }
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                Output = console.Out,
                Error = console.Error,
                EnableDefaultExceptionHandler = false,
            }, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            // The engine names its failures; anything else (an I/O error it did not expect, a bug) still ends as one
            // coded line, never a stack trace: scripts parse stderr, and --json keeps stdout to the JSON alone.
            DispatchException coded = DispatchException.From(e);
            await console.Error.WriteLineAsync($"testdispatch: {coded.ErrorCode}: {coded.Message}");
            return ExitCodes.For(coded);
        }
    }
}
