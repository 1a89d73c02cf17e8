using System.CommandLine;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Machines;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>machine drain NAME [--reason TEXT] [--cancel-queue]</c> takes a machine out of service (its current run finishes,
/// it takes no new work; with --cancel-queue its queued runs end interrupted); <c>machine resume NAME</c> puts it back
/// (after its health check passes, if it has one). Both print the machine as <c>machines</c> does, or its JSON.
/// </summary>
public static class MachineCommand
{
    public static Command Build(GlobalOptions global)
    {
        Command command = new("machine", "Take a machine out of service and put it back");
        command.Subcommands.Add(Drain(global));
        command.Subcommands.Add(Resume(global));
        return command;
    }

    private static Command Drain(GlobalOptions global)
    {
        Argument<string> name = new("name") { Description = "The machine" };
        Option<string> reason = new("--reason") { Description = "Why, for whoever looks at 'machines' (e.g. \"fan replaced\")" };
        Option<bool> cancelQueue = new("--cancel-queue") { Description = "End its queued runs as interrupted instead of keeping them for the resume" };
        Option<bool> json = GlobalOptions.Json();
        Command command = new("drain", "Finish the machine's current run, then take no new work until 'machine resume'") { name, reason, cancelQueue, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = global.OpenLab(parse);
            int queued = lab.Machines().FirstOrDefault(m => m.Name == parse.GetValue(name))?.Queue.Count ?? 0;
            MachineState machine = await lab.DrainAsync(parse.GetValue(name)!, parse.GetValue(reason) ?? "", parse.GetValue(cancelQueue), cancellationToken);
            if (parse.GetValue(json))
            {
                await global.Console.Out.WriteLineAsync(JsonSerializer.Serialize(machine, ContractJson.Default.MachineState));
                return ExitCodes.Passed;
            }
            string current = machine.State == MachineState.Draining ? $"; its current run {machine.CurrentRun} finishes first" : "";
            string queue = parse.GetValue(cancelQueue) ? $"; {Format.Count(queued)} queued runs cancelled"
                : machine.Queue.Count > 0 ? $"; {Format.Count(machine.Queue.Count)} queued runs wait for 'testdispatch machine resume {machine.Name}'" : "";
            await global.Console.Out.WriteLineAsync($"{machine.Name} {machine.State}: {TerminalText.Escape(Format.Note(machine, DateTimeOffset.UtcNow))}{current}{queue}");
            return ExitCodes.Passed;
        });
        return command;
    }

    private static Command Resume(GlobalOptions global)
    {
        Argument<string> name = new("name") { Description = "The machine" };
        Option<bool> json = GlobalOptions.Json();
        Command command = new("resume", "Put a drained, unhealthy or dirty machine back in service (after its health check, if it has one)") { name, json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = global.OpenLab(parse);
            MachineState machine = await lab.ResumeAsync(parse.GetValue(name)!, cancellationToken);
            await global.Console.Out.WriteLineAsync(parse.GetValue(json)
                ? JsonSerializer.Serialize(machine, ContractJson.Default.MachineState)
                : machine.Health switch
                {
                    MachineHealth.Checking => $"{machine.Name} {machine.State}: {machine.HealthReason}; it takes other work once that passes",
                    // Its health check ran, and failed, before this command read the machine back (a fast check on a fast agent).
                    MachineHealth.Unhealthy => $"{machine.Name} {machine.State}: not back in service: {machine.HealthReason}",
                    _ => $"{machine.Name} {machine.State}: back in service",
                });
            return ExitCodes.Passed;
        });
        return command;
    }
}
