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
        RunFilterOptions filters = new();
        Command command = new("runs", "List runs, newest first");
        foreach (Option option in filters.All.Append(json))
        {
            command.Options.Add(option);
        }
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            RunFilter filter = filters.Filter(parse, lab);
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
