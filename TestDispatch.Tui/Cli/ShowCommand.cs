using System.CommandLine;
using System.Text;
using System.Text.Json;
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
                RunTests results = lab.Tests(shown);
                TextWriter output = parse.InvocationConfiguration.Output;
                if (parse.GetValue(json))
                {
                    await WriteTestsJsonAsync(output, results);
                }
                else
                {
                    WriteTests(output, results);
                }
                return ExitCodes.Passed;
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

    /// <summary>Rows the cases' table holds before writing them: its columns are as wide as the widest of the first part.</summary>
    private const int TablePart = 2_000;

    /// <summary>
    /// The cases, failures first, then each failure's message and text: streamed, as the cases are read (a pass over the
    /// run's results for the table, another for the failures' text), so memory stays bounded whatever the report's size.
    /// </summary>
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
        TextTable table = new("STATUS", "TIME_S", "SUITE", "CASE", "MESSAGE");
        int[]? widths = null;
        bool any = false;
        foreach (CaseResult c in results.Cases)
        {
            if (!any)
            {
                output.WriteLine();
                any = true;
            }
            table.Add(Format.Status(c), Format.Seconds(c.TimeS), c.Suite, c.ClassName.Length > 0 ? $"{c.ClassName}::{c.Name}" : c.Name, FirstLine(c.Message));
            if (table.Count == TablePart)
            {
                widths = table.WriteTo(output, widths);
            }
        }
        if (!any)
        {
            return;
        }
        if (widths is null || table.Count > 0)
        {
            table.WriteTo(output, widths);
        }
        // Failures come first: the reading stops at the first case that is not one.
        foreach (CaseResult c in results.Cases.TakeWhile(c => CaseHistory.IsFailure(c.Status)).Where(c => c.Text.Length > 0))
        {
            output.WriteLine();
            output.WriteLine($"--- {c.FullName} ({Format.Status(c)})");
            foreach (string line in c.Text.Split('\n'))
            {
                output.WriteLine(TerminalText.ForScreen(line.TrimEnd('\r')));
            }
        }
    }

    /// <summary>
    /// The same JSON as serializing <paramref name="results"/> whole (its contract, <see cref="ContractJson"/>), written case by
    /// case as they are read.
    /// </summary>
    public static async Task WriteTestsJsonAsync(TextWriter output, RunTests results)
    {
        System.Buffers.ArrayBufferWriter<byte> buffer = new(1 << 16);
        await using Utf8JsonWriter json = new(buffer, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("id", results.Id);
        json.WritePropertyName("tests");
        JsonSerializer.Serialize(json, results.Tests, ContractJson.Default.TestCounts);
        json.WriteString("results_error", results.ResultsError);
        json.WriteStartArray("cases");
        foreach (CaseResult c in results.Cases)
        {
            JsonSerializer.Serialize(json, c, ContractJson.Default.CaseResult);
            if (buffer.WrittenCount >= 1 << 16)
            {
                await json.FlushAsync();
                await output.WriteAsync(Encoding.UTF8.GetString(buffer.WrittenSpan));
                buffer.ResetWrittenCount();
            }
        }
        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync();
        await output.WriteLineAsync(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0];
}
