using System.CommandLine;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>run &lt;test-dir&gt; --machine M [--wait] [--follow] [--timeout T] [--command PROG] [--json] [-- ARGS…]</c>:
/// prepares a run and returns its id at once; the agent executes it. With --wait or --follow, exits
/// with the run's verdict. Ctrl+C stops only the waiting, never the run.
/// </summary>
public static class RunCommand
{
    public static Command Build(GlobalOptions global)
    {
        Argument<string> testDir = new("test-dir") { Description = "Folder holding the test" };
        Argument<string[]> arguments = new("args")
        {
            Description = "After --: the test command and its arguments (or, with --command, the arguments)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        Option<string> machine = new("--machine", "-m") { Description = "Machine to run on", Required = true };
        Option<bool> queue = new("--queue", "-q") { Description = "If the machine is busy, queue the test behind its runs (first in, first out) instead of refusing" };
        Option<bool> wait = new("--wait", "-w") { Description = "Wait for the verdict and exit with it" };
        Option<bool> follow = new("--follow", "-f") { Description = "Stream the log while waiting (implies --wait)" };
        Option<TimeSpan?> timeout = new("--timeout")
        {
            Description = "Time limit, at most 365d (e.g. 90s, 5m, 00:10:00); default from configuration",
            CustomParser = result =>
            {
                TimeSpan? limit = Duration.ParseTimeLimit(result.Tokens.Single().Value, "--timeout", out string? problem);
                if (problem is not null)
                {
                    result.AddError(problem);
                }
                return limit;
            },
        };
        Option<string?> program = new("--command") { Description = "Test program to run instead of the configured one (its arguments go after --)" };
        Option<bool> json = GlobalOptions.Json();
        Command command = new("run", "Dispatch a test directory to a machine") { testDir, arguments, machine, queue, wait, follow, timeout, program, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            CliConsole console = global.Console;
            Lab lab = global.OpenLab(parse);
            string[] rest = parse.GetValue(arguments) ?? [];
            IReadOnlyList<string>? testCommand = parse.GetValue(program) is { } p ? [p, .. rest] : rest.Length > 0 ? rest : null;
            string machineName = parse.GetValue(machine)!;

            PrepareOutcome outcome = await lab.DispatchAsync(parse.GetValue(testDir)!, machineName, testCommand, parse.GetValue(timeout), parse.GetValue(queue), cancellationToken);
            Run run = outcome.Run;
            if (outcome.Kind == PrepareKind.Busy)
            {
                await console.Error.WriteLineAsync(outcome.BeingCancelled
                    ? $"testdispatch: {ErrorCodes.MachineBusy}: machine {machineName} is busy with run {run.Id} ({run.TestDir}), which is being " +
                      $"cancelled; dispatch again once it has ended ('testdispatch logs -f {run.Id}' waits for that)"
                    : $"testdispatch: {ErrorCodes.MachineBusy}: machine {machineName} is busy with run {run.Id} ({run.Status.ToWord()}, {run.TestDir}); " +
                      $"wait for it ('testdispatch logs -f {run.Id}'), cancel it ('testdispatch cancel {run.Id}'), or queue behind it with --queue");
                return ExitCodes.MachineBusy;
            }
            if (outcome.Kind == PrepareKind.Created && parse.GetValue(queue) &&
                lab.Machines().FirstOrDefault(m => m.Name == machineName)?.Queue is { } queued && queued.ToList().IndexOf(run.Id) is var place and >= 0)
            {
                await console.Error.WriteLineAsync($"testdispatch: machine {machineName} is busy; run {run.Id} is queued with {Format.Count(place)} runs ahead of it");
            }
            if (outcome.Kind == PrepareKind.Reused)
            {
                await console.Error.WriteLineAsync(
                    $"testdispatch: the same test is already {run.Status.ToWord()} on {machineName} as run {run.Id}; following that run");
            }

            bool waiting = parse.GetValue(wait) || parse.GetValue(follow);
            bool asJson = parse.GetValue(json);
            if (!asJson || !waiting)
            {
                await console.Out.WriteLineAsync(asJson ? JsonSerializer.Serialize(run, ContractJson.Default.Run) : run.Id);
                await console.Out.FlushAsync(cancellationToken);
            }
            if (!waiting)
            {
                return ExitCodes.Passed;
            }

            try
            {
                Run ended = parse.GetValue(follow)
                    ? await lab.FollowLogAsync(run.Id, console.RawOut, 0, console.Note, cancellationToken)
                    : await lab.WaitAsync(run.Id, console.Note, cancellationToken);
                if (asJson)
                {
                    await console.Out.WriteLineAsync(JsonSerializer.Serialize(ended, ContractJson.Default.Run));
                }
                await console.Error.WriteLineAsync($"testdispatch: run {ended.Id} {Format.Status(ended)}, exit {Format.Exit(ended)}, in {Format.Duration(ended)}" +
                    (ended.ErrorMsg.Length > 0 ? $": {ended.ErrorMsg}" : ""));
                return ExitCodes.For(ended);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await console.Error.WriteLineAsync($"testdispatch: stopped waiting; run {run.Id} goes on ('testdispatch cancel {run.Id}' stops it)");
                return ExitCodes.Interrupted;
            }
        });
        return command;
    }
}
