using System.CommandLine;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.Cli;

/// <summary><c>machines [--json]</c>: every configured machine and what occupies it.</summary>
public static class MachinesCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> json = GlobalOptions.Json();
        Command command = new("machines", "List the configured machines: what each is doing, its queue, health and last verdicts") { json };
        command.SetAction(async (parse, cancellationToken) =>
        {
            global.Console.EndOnBrokenPipe();
            Lab lab = global.OpenLab(parse);
            // A read is also a client noticing a dead agent: runs it left running are swept to agent_lost.
            await lab.EnsureAgentAsync(cancellationToken);
            IReadOnlyList<MachineState> machines = lab.Machines();
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(machines, ContractJson.Default.IReadOnlyListMachineState));
                return ExitCodes.Passed;
            }
            TextTable table = new("NAME", "TRANSPORT", "HOST", "TAGS", "STATE", "QUEUE", "CURRENT RUN", "HEALTH", "INFRA", "RECENT", "NOTE");
            DateTimeOffset now = DateTimeOffset.UtcNow;
            foreach (MachineState m in machines)
            {
                table.Add(m.Name, m.Transport, m.Host ?? "-", Format.Tags(m.Tags), m.State, Format.Count(m.Queue.Count), m.CurrentRun ?? "-",
                    m.Health, Format.Count(m.InfraFailures), Format.Recent(m), Format.Note(m, now));
            }
            table.WriteTo(output);
            foreach (MachineState m in machines.Where(m => m.Unreachable is not null))
            {
                await output.WriteLineAsync($"{m.Name}: unreachable since {Format.Time(m.Since)}: {m.Unreachable}");
            }
            return ExitCodes.Passed;
        });
        return command;
    }
}
