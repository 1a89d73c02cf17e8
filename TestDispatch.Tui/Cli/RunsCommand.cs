using System.CommandLine;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary><c>runs [--status S] [--machine M] [--batch B] [--limit N] [--json]</c>: run history, newest first.</summary>
public static class RunsCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> json = GlobalOptions.Json();
        Option<RunStatus?> status = new("--status")
        {
            Description = "Only runs with this status: pending, running, completed, failed, interrupted, timeout",
            CustomParser = result =>
            {
                string word = result.Tokens.Single().Value;
                if (RunStatusExtensions.TryParse(word, out RunStatus parsed))
                {
                    return parsed;
                }
                result.AddError($"--status '{word}' is not a status; use one of: pending, running, completed, failed, interrupted, timeout");
                return null;
            },
        };
        Option<string?> machine = new("--machine") { Description = "Only runs on this machine" };
        Option<string?> batch = new("--batch") { Description = "Only runs of this batch (id or unique prefix)" };
        Option<int?> limit = new("--limit") { Description = "At most this many runs (newest first)" };
        limit.Validators.Add(result =>
        {
            // Not a number (or too big for one): the parser reports that itself; reading the value here would throw.
            if (int.TryParse(result.Tokens is [var token] ? token.Value : null, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) && value is < 1)
            {
                result.AddError("--limit must be 1 or more");
            }
        });
        Command command = new("runs", "List runs, newest first") { status, machine, batch, limit, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            string? batchId = parse.GetValue(batch) is { } wanted ? lab.FindBatchId(wanted) : null;
            RunFilter filter = new(parse.GetValue(status), parse.GetValue(machine), batchId, parse.GetValue(limit));
            // Streamed: the store reads history as this writes, so memory stays bounded whatever the history size.
            // Ctrl-C stops a long listing between two runs (exit 130), not after the whole of history.
            IEnumerable<Run> runs = lab.StreamRuns(filter).Select(r =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                return r;
            });
            if (filter.Limit is { } most)
            {
                runs = runs.Take(most);
            }
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                await WriteJsonAsync(output, runs);
                return ExitCodes.Passed;
            }
            TextTable table = new("ID", "MACHINE", "STATUS", "EXIT", "STARTED", "DURATION", "BATCH", "TEST");
            int[]? widths = null;
            foreach (Run run in runs)
            {
                table.Add(run.Id, run.Machine, Format.Status(run), Format.Exit(run), Format.Time(run.StartedAt),
                    Format.Duration(run), Format.Batch(run) is { Length: > 0 } b ? b : "-", run.TestDir);
                if (table.Count == TablePart)
                {
                    widths = table.WriteTo(output, widths);
                }
            }
            if (widths is null || table.Count > 0)
            {
                table.WriteTo(output, widths);
            }
            return ExitCodes.Passed;
        });
        return command;
    }

    /// <summary>Rows a text listing holds before writing them: its columns are as wide as the widest of the first part.</summary>
    private const int TablePart = 2_000;

    /// <summary>The same JSON array as serializing the whole list (the contract of docs/DESIGN.md §3), written run by run.</summary>
    private static async Task WriteJsonAsync(TextWriter output, IEnumerable<Run> runs)
    {
        System.Buffers.ArrayBufferWriter<byte> buffer = new(1 << 16);
        await using Utf8JsonWriter json = new(buffer, new JsonWriterOptions { Indented = true });
        json.WriteStartArray();
        foreach (Run run in runs)
        {
            JsonSerializer.Serialize(json, run, ContractJson.Default.Run);
            if (buffer.WrittenCount >= 1 << 16)
            {
                await json.FlushAsync();
                await output.WriteAsync(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
                buffer.ResetWrittenCount();
            }
        }
        json.WriteEndArray();
        await json.FlushAsync();
        await output.WriteLineAsync(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
    }
}
