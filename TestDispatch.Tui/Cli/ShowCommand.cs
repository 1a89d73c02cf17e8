using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary><c>show &lt;id&gt; [--json]</c>: one run's whole record; the id may be any unique prefix.</summary>
public static class ShowCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> json = GlobalOptions.Json();
        Argument<string> id = new("id") { Description = "Run id, or any unique prefix of it" };
        Command command = new("show", "Show one run") { id, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            Run run = lab.Show(parse.GetValue(id)!);
            return await Reading.PrintAsync(parse, json, run, ContractJson.Default.Run, (output, shown) => Write(output, shown, lab.SettingsOf(run.Id)));
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
}
