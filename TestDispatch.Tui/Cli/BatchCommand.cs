using System.CommandLine;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>batch submit|list|show|cancel|rerun</c> (docs/DESIGN.md §8): a plan of tests across many machines. Submitting prints the
/// batch id at once (the agent hands its items to free matching machines); <c>--wait</c> exits with the batch's verdict.
/// </summary>
public static class BatchCommand
{
    public static Command Build(GlobalOptions global)
    {
        Command command = new("batch", "Run a plan of tests across machines, and browse batches")
        {
            Submit(global), List(global), Show(global), Cancel(global), Rerun(global),
        };
        return command;
    }

    private static Command Submit(GlobalOptions global)
    {
        Argument<string> plan = new("plan") { Description = "Plan file (JSON): a name and entries with test_dir and machine or tags" };
        Option<bool> wait = new("--wait", "-w") { Description = "Wait until every entry has ended; exit 0 if all passed, 1 if not, 130 if cancelled" };
        Option<bool> json = GlobalOptions.Json();
        Command command = new("submit", "Submit a plan file as a new batch") { plan, wait, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = global.OpenLab(parse);
            Batch batch = await lab.SubmitBatchAsync(parse.GetValue(plan)!, cancellationToken);
            return await ReportAsync(global, lab, batch, parse.GetValue(wait), parse.GetValue(json), cancellationToken);
        });
        return command;
    }

    private static Command List(GlobalOptions global)
    {
        Option<bool> json = GlobalOptions.Json();
        Command command = new("list", "List batches, newest first") { json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            return await Reading.PrintAsync(parse, json, lab.Batches(), ContractJson.Default.IReadOnlyListBatch, (output, batches) =>
            {
                TextTable table = new("ID", "NAME", "STATUS", "DONE", "PASSED", "NOT PASSED", "RUNNING", "WAITING", "CREATED");
                foreach (Batch batch in batches)
                {
                    BatchCounts c = batch.Counts;
                    table.Add(batch.Id, batch.Name, batch.Status.ToWord(), Format.Progress(batch), Format.Count(c.Completed),
                        Format.Count(c.Done - c.Completed), Format.Count(c.Pending + c.Running), Format.Count(c.Waiting), Format.Time(batch.CreatedAt));
                }
                table.WriteTo(output);
            });
        });
        return command;
    }

    private static Command Show(GlobalOptions global)
    {
        Argument<string> id = IdArgument();
        Option<bool> json = GlobalOptions.Json();
        Command command = new("show", "Show a batch and each of its entries") { id, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            return await Reading.PrintAsync(parse, json, lab.ShowBatch(parse.GetValue(id)!), ContractJson.Default.Batch, Write);
        });
        return command;
    }

    private static Command Cancel(GlobalOptions global)
    {
        Argument<string> id = IdArgument();
        Option<bool> json = GlobalOptions.Json();
        Command command = new("cancel", "Cancel a batch: drop its waiting entries and stop its runs") { id, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = global.OpenLab(parse);
            Batch before = lab.ShowBatch(parse.GetValue(id)!);
            Batch batch = await lab.CancelBatchAsync(before.Id, cancellationToken);
            if (before.IsTerminal)
            {
                await global.Console.Error.WriteLineAsync($"testdispatch: batch {batch.Id} had already ended ({before.Status.ToWord()}); nothing to cancel");
            }
            await global.Console.Out.WriteLineAsync(parse.GetValue(json)
                ? JsonSerializer.Serialize(batch, ContractJson.Default.Batch)
                : $"{batch.Id} {(batch.IsTerminal ? batch.Status.ToWord() : "cancelling")} ({Format.Progress(batch)} done)");
            return ExitCodes.Passed;
        });
        return command;
    }

    private static Command Rerun(GlobalOptions global)
    {
        Argument<string> id = IdArgument();
        Option<bool> failed = new("--failed") { Description = "Only the entries that did not pass (failed, timed out, interrupted, dropped)" };
        Option<bool> wait = new("--wait", "-w") { Description = "Wait for the new batch, as with submit --wait" };
        Option<bool> json = GlobalOptions.Json();
        Command command = new("rerun", "Submit a new batch with the entries of an old one") { id, failed, wait, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = global.OpenLab(parse);
            Batch batch = await lab.RerunBatchAsync(parse.GetValue(id)!, parse.GetValue(failed), cancellationToken);
            return await ReportAsync(global, lab, batch, parse.GetValue(wait), parse.GetValue(json), cancellationToken);
        });
        return command;
    }

    private static async Task<int> ReportAsync(GlobalOptions global, Lab lab, Batch batch, bool wait, bool asJson, CancellationToken cancellationToken)
    {
        CliConsole console = global.Console;
        if (!asJson || !wait)
        {
            await console.Out.WriteLineAsync(asJson ? JsonSerializer.Serialize(batch, ContractJson.Default.Batch) : batch.Id);
            await console.Out.FlushAsync(cancellationToken);
        }
        if (!wait)
        {
            return ExitCodes.Passed;
        }
        try
        {
            Batch ended = await lab.WaitBatchAsync(batch.Id, withItems: asJson, console.Note, cancellationToken);
            if (asJson)
            {
                await console.Out.WriteLineAsync(JsonSerializer.Serialize(ended, ContractJson.Default.Batch));
            }
            BatchCounts c = ended.Counts;
            await console.Error.WriteLineAsync($"testdispatch: batch {ended.Id} {ended.Status.ToWord()}: {c.Completed} of {c.Total} passed" +
                (c.Done > c.Completed ? $", {c.Failed} failed, {c.Timeout} timed out, {c.Interrupted} interrupted, {c.Dropped} dropped" : "") +
                $" ('testdispatch batch show {ended.Id}')");
            return ExitCodes.For(ended);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await console.Error.WriteLineAsync($"testdispatch: stopped waiting; batch {batch.Id} goes on ('testdispatch batch cancel {batch.Id}' stops it)");
            return ExitCodes.Interrupted;
        }
    }

    public static void Write(TextWriter output, Batch batch)
    {
        TextTable fields = new("FIELD", "VALUE");
        fields.Add("id", batch.Id);
        fields.Add("name", batch.Name);
        fields.Add("status", batch.Status.ToWord());
        fields.Add("done", Format.Progress(batch));
        fields.Add("plan", batch.Plan);
        fields.Add("created", Format.Time(batch.CreatedAt));
        fields.Add("ended", Format.Time(batch.EndedAt));
        if (batch.ExpectedEnd is { } expected)
        {
            fields.Add("expected end", $"{Format.Time(expected)} (an estimate from its tests' recent durations)");
        }
        if (batch.RerunOf is not null)
        {
            fields.Add("rerun of", batch.RerunOf);
        }
        if (batch.Tests is { } tests)
        {
            fields.Add("tests", Format.Tests(tests));
        }
        fields.WriteTo(output);
        output.WriteLine();
        TextTable items = new("ENTRY", "TARGET", "STATUS", "TRIES", "RUN", "MACHINE", "EXIT", "TEST");
        foreach (BatchItem item in batch.Items ?? [])
        {
            items.Add(item.Name, Format.Target(item), Format.Status(item), Format.Count(item.Attempts), item.RunId ?? "-",
                item.RanOn ?? "-", item.ExitCode is { } exit ? Format.Count(exit) : "-", item.TestDir);
        }
        items.WriteTo(output);
        if (batch.NewFailures is [_, ..] fresh)
        {
            output.WriteLine();
            TextTable failures = new("ENTRY", "RUN", "NEW FAILURE");
            foreach (NewFailure failure in fresh)
            {
                failures.Add(failure.Entry, failure.Run, failure.Case);
            }
            failures.WriteTo(output);
        }
    }

    private static Argument<string> IdArgument() => new("id") { Description = "Batch id, or any unique prefix of it" };
}
