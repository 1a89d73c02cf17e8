using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>logs &lt;id&gt; [-f] [--tail N]</c>: a run's merged output, bytes as the test wrote them. With -f,
/// starts at the last lines (never reading a huge log whole) and follows until the run ends.
/// </summary>
public static class LogsCommand
{
    private const int FollowTailDefault = 100;

    public static Command Build(GlobalOptions global)
    {
        Argument<string> id = new("id") { Description = "Run id, or any unique prefix of it" };
        Option<bool> follow = new("--follow", "-f") { Description = $"Keep printing new output until the run ends (starts at the last {FollowTailDefault} lines)" };
        Option<int?> tail = new("--tail", "-n") { Description = "Start at the last N lines" };
        tail.Validators.Add(result =>
        {
            // Not a number (or too big for one): the parser reports that itself; reading the value here would throw.
            if (int.TryParse(result.Tokens is [var token] ? token.Value : null, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) && value is < 0)
            {
                result.AddError("--tail must be 0 or more");
            }
        });
        Command command = new("logs", "Print a run's log") { id, follow, tail };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            Run run = lab.Show(parse.GetValue(id)!);
            Stream output = global.Console.RawOut;
            if (!parse.GetValue(follow))
            {
                await lab.CopyLogAsync(run, output, parse.GetValue(tail), cancellationToken);
                return ExitCodes.Passed;
            }
            try
            {
                long start = lab.LogOffsetOfLastLines(run, parse.GetValue(tail) ?? FollowTailDefault);
                Run ended = await lab.FollowLogAsync(run.Id, output, start, global.Console.Note, cancellationToken);
                return ExitCodes.For(ended);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Interrupted;
            }
        });
        return command;
    }
}
