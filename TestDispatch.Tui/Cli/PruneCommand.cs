using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>prune --older-than 90d [--keep-failed] [--dry-run]</c>: removes runs that ended longer ago than that (their records,
/// logs and artifacts), never one still pending or running and never one of a batch still open. Exits 0.
/// </summary>
public static class PruneCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<TimeSpan?> olderThan = new("--older-than")
        {
            Description = $"Remove runs that ended longer ago than this (e.g. 90d); {Duration.Help}",
            Required = true,
            CustomParser = result =>
            {
                string text = result.Tokens.Single().Value;
                if (text.TrimStart().StartsWith('-'))
                {
                    // "-0d" parses as zero, which prunes every ended run: not what a sign in front of it asks for.
                    result.AddError($"--older-than '{text}' is negative; give how long ago the runs to remove ended, e.g. 90d");
                    return null;
                }
                if (Duration.TryParse(text, out TimeSpan value))
                {
                    return value;
                }
                result.AddError($"--older-than '{text}' is not a duration: {Duration.Help}");
                return null;
            },
        };
        Option<bool> keepFailed = new("--keep-failed") { Description = "Keep runs that did not pass (failed, timeout, interrupted) and their batches" };
        Option<bool> dryRun = new("--dry-run") { Description = "Only say what would be removed" };
        Command command = new("prune", "Remove old ended runs: records, logs and artifacts") { olderThan, keepFailed, dryRun };
        command.SetAction(parse =>
        {
            Lab lab = global.OpenLab(parse);
            bool dry = parse.GetValue(dryRun);
            PruneReport report = lab.Prune(parse.GetValue(olderThan)!.Value, parse.GetValue(keepFailed), dry);
            TextWriter output = parse.InvocationConfiguration.Output;
            output.WriteLine($"{(dry ? "would remove" : "removed")} {report.Runs.Count} runs and {report.Batches.Count} batches, " +
                $"{ByteSize.Format(report.Bytes)} of logs and artifacts");
            return ExitCodes.Passed;
        });
        return command;
    }
}
