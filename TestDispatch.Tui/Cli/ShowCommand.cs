using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>show &lt;id&gt; [--tests] [--json]</c>: one run's whole record, or with <c>--tests</c> its test cases, failures first;
/// the id may be any unique prefix.
/// </summary>
public static class ShowCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> json = GlobalOptions.Json();
        Option<bool> tests = new("--tests") { Description = "The run's test cases, from its JUnit reports: failures first, new and flaky ones marked" };
        Argument<string> id = new("id") { Description = "Run id, or any unique prefix of it" };
        Command command = new("show", "Show one run") { id, tests, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            string shown = parse.GetValue(id)!;
            if (parse.GetValue(tests))
            {
                return await Reading.PrintAsync(parse, json, lab.Tests(shown), ContractJson.Default.RunTests, WriteTests);
            }
            Run run = lab.Show(shown);
            return await Reading.PrintAsync(parse, json, run, ContractJson.Default.Run, (output, r) => Write(output, r, lab.SettingsOf(run.Id)));
        });
        return command;
    }

    /// <param name="settings">The configuration the run follows, when known: its row says where it was read from.</param>
    public static void Write(TextWriter output, Run run, RunSettings? settings = null)
    {
        TextTable table = new("FIELD", "VALUE");
        table.Add("id", run.Id);
        table.Add("machine", run.Machine);
        table.Add("status", Format.Status(run));
        table.Add("exit code", Format.Exit(run));
        table.Add("test dir", run.TestDir);
        table.Add("test dir hash", run.TestDirHash);
        table.Add("started", Format.Time(run.StartedAt));
        table.Add("ended", Format.Time(run.EndedAt));
        table.Add("duration", Format.Duration(run));
        if (run.ErrorCode.Length > 0)
        {
            table.Add("error", $"{run.ErrorCode}: {run.ErrorMsg}");
        }
        if (run.Tests is { } counts)
        {
            table.Add("tests", Format.Tests(counts));
        }
        if (run.ResultsError is { } broken)
        {
            table.Add("results error", broken);
        }
        if (run.BatchId is not null)
        {
            table.Add("batch", Format.Batch(run));
        }
        table.Add("log", run.LogsPath);
        table.Add("artifacts", run.ArtifactsPath);
        table.Add("configuration", settings is null ? "the agent's (the run was recorded before runs carried theirs)"
            : $"{settings.From}: kill grace {Format.Span(settings.KillGrace)}, unreachable grace {Format.Span(settings.UnreachableGrace)}, " +
              $"log limit {ByteSize.Format(settings.LogLimit)}");
        table.WriteTo(output);
    }

    /// <summary>The cases, failures first, then each failure's message and text.</summary>
    public static void WriteTests(TextWriter output, RunTests results)
    {
        if (results.Tests is not { } counts)
        {
            output.WriteLine($"run {results.Id} left no test results (no JUnit XML under its artifacts, nor where its testdispatch.json's \"results\" point)");
        }
        else
        {
            output.WriteLine($"{results.Id}: {Format.Tests(counts)}");
        }
        if (results.ResultsError is { } broken)
        {
            output.WriteLine($"results error: {broken}");
        }
        if (results.Cases.Count == 0)
        {
            return;
        }
        output.WriteLine();
        TextTable table = new("STATUS", "TIME_S", "SUITE", "CASE", "MESSAGE");
        foreach (CaseResult c in results.Cases)
        {
            table.Add(Format.Status(c), Format.Seconds(c.TimeS), c.Suite, c.ClassName.Length > 0 ? $"{c.ClassName}::{c.Name}" : c.Name, FirstLine(c.Message));
        }
        table.WriteTo(output);
        foreach (CaseResult c in results.Cases.Where(c => CaseHistory.IsFailure(c.Status) && c.Text.Length > 0))
        {
            output.WriteLine();
            output.WriteLine($"--- {c.FullName} ({Format.Status(c)})");
            foreach (string line in c.Text.Split('\n'))
            {
                output.WriteLine(TerminalText.ForScreen(line.TrimEnd('\r')));
            }
        }
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0];
}
