using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Results;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>history CASE [--test-dir DIR] [--json]</c>: every run that had a test case, newest first, with how it ended there.
/// CASE is its full name ("suite::class::name", as <c>show ID --tests</c> gives it) or a part only that case's name holds.
/// </summary>
public static class HistoryCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> json = GlobalOptions.Json();
        Option<string?> testDir = new("--test-dir") { Description = "Only runs of this test directory" };
        Argument<string> name = new("case") { Description = "The case's full name (suite::class::name), or a part of it only that case has" };
        Command command = new("history", "Every run that had a test case, newest first") { name, testDir, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            CaseLookup found = lab.CaseRuns(parse.GetValue(name)!, parse.GetValue(testDir));
            return await Reading.PrintAsync(parse, json, found.Runs, ContractJson.Default.IReadOnlyListCaseRun, Write);
        });
        return command;
    }

    public static void Write(TextWriter output, IReadOnlyList<CaseRun> runs)
    {
        if (runs.Count > 0)
        {
            output.WriteLine(runs[0].Case);
        }
        TextTable table = new("RUN", "STATUS", "TIME_S", "MACHINE", "ENDED", "TEST DIR");
        foreach (CaseRun run in runs)
        {
            table.Add(run.Run, run.Status.Word(), Format.Seconds(run.TimeS), run.Machine, Format.Time(run.EndedAt), run.TestDir);
        }
        table.WriteTo(output);
    }
}
