using System.CommandLine;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;

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
            global.Console.EndOnBrokenPipe();
            Lab lab = global.OpenLab(parse);
            // A read is also a client noticing a dead agent: runs it left running are swept to agent_lost.
            await lab.EnsureAgentAsync(cancellationToken);
            Run run = lab.Show(parse.GetValue(id)!);
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(run, ContractJson.Default.Run));
                return ExitCodes.Passed;
            }
            Write(output, run);
            return ExitCodes.Passed;
        });
        return command;
    }

    public static void Write(TextWriter output, Run run)
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
        table.WriteTo(output);
    }
}
