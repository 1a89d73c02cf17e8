using System.CommandLine;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Logs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>diff RUN [OTHER] [--json]</c>: "what changed since the last pass?": the run's log against that of the last passing run
/// of its test dir (on its machine, else on any), or of OTHER, with volatile tokens (times, pids, temp dirs…) folded away
/// (docs/log-search-and-diff.md). Unified diff, headers naming both runs. Exits as diff does: 0 alike, 1 different, 2 on
/// trouble (no earlier pass, logs too different to align).
/// </summary>
public static class DiffCommand
{
    public static Command Build(GlobalOptions global)
    {
        Argument<string> id = new("run") { Description = "Run id, or any unique prefix of it" };
        Argument<string?> other = new("other") { Description = "Compare with this run instead of the last pass", Arity = ArgumentArity.ZeroOrOne };
        Option<bool> json = GlobalOptions.Json();
        Command command = new("diff", "Compare a run's log with the last pass of its test, volatile tokens folded away") { id, other, json };
        command.SetAction((parse, cancellationToken) => AnswerOrTrouble.RunAsync(global.Console, async () =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            RunDiff diff = lab.DiffLogs(parse.GetValue(id)!, parse.GetValue(other), cancellationToken);
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(diff, LogJson.Default.RunDiff));
            }
            else if (diff.Diff.Outcome == LogDiffOutcome.Different)
            {
                UnifiedDiff.Write(diff.Diff, output, Format.DiffLabel(diff.Base), Format.DiffLabel(diff.Run));
            }
            switch (diff.Diff.Outcome)
            {
                case LogDiffOutcome.Equal:
                    global.Console.Note($"the log of run {diff.Run.Id} is the same as run {diff.Base.Id}'s but for volatile tokens (times, pids, temp paths…)");
                    return ExitCodes.Passed;
                case LogDiffOutcome.Different:
                    return ExitCodes.TestFailed;
                default:
                    LogDiffResult d = diff.Diff;
                    throw new DispatchException(ErrorCodes.LogsTooDifferent, $"the logs of runs {diff.Base.Id} and {diff.Run.Id} are {d.Reason} " +
                        $"({d.CommonPrefixLines:N0} lines alike at the start, {d.CommonSuffixLines:N0} at the end, of {d.LinesA:N0} and {d.LinesB:N0})");
            }
        }));
        return command;
    }
}
