using System.CommandLine;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>cancel &lt;id&gt; [--json]</c>: stops a run. A pending run ends at once; a running one's process tree
/// gets SIGTERM then SIGKILL, and the command waits (a few seconds past the grace period) to report it.
/// </summary>
public static class CancelCommand
{
    public static Command Build(GlobalOptions global)
    {
        Argument<string> id = new("id") { Description = "Run id, or any unique prefix of it" };
        Option<bool> json = GlobalOptions.Json();
        Command command = new("cancel", "Cancel a pending or running run") { id, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = global.OpenLab(parse);
            Run before = lab.Show(parse.GetValue(id)!);
            Run run = await lab.CancelAsync(before.Id, cancellationToken);
            if (!run.Status.IsTerminal())
            {
                using CancellationTokenSource patience = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                patience.CancelAfter(lab.Config.Defaults.KillGrace + TimeSpan.FromSeconds(10));
                try
                {
                    run = await lab.WaitAsync(run.Id, cancellationToken: patience.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    await global.Console.Error.WriteLineAsync($"testdispatch: asked run {run.Id} to stop; it has not ended yet");
                }
            }
            else if (before.Status.IsTerminal())
            {
                await global.Console.Error.WriteLineAsync($"testdispatch: run {run.Id} had already ended ({Format.Status(run)}); nothing to cancel");
            }
            await global.Console.Out.WriteLineAsync(parse.GetValue(json)
                ? JsonSerializer.Serialize(run, ContractJson.Default.Run)
                : $"{run.Id} {Format.Status(run)}");
            return ExitCodes.Passed;
        });
        return command;
    }
}
