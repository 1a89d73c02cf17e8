using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Machines;
using TestDispatch.Tui.Text;

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
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            return await Reading.PrintAsync(parse, json, lab.Machines(), ContractJson.Default.IReadOnlyListMachineState, Write);
        });
        return command;
    }

    private static void Write(TextWriter output, IReadOnlyList<MachineState> machines)
    {
        TextTable table = new("NAME", "TRANSPORT", "HOST", "TAGS", "STATE", "QUEUE", "CURRENT RUN", "HEALTH", "INFRA", "RECENT", "NOTE");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (MachineState m in machines)
        {
            table.Add(m.Name, m.Transport, m.Machine.Transport == Engine.Configuration.TransportKind.Local ? "-" : m.Machine.Location, Format.Tags(m.Tags), m.State, Format.Count(m.Queue.Count), m.CurrentRun ?? "-",
                m.Health, Format.Count(m.InfraFailures), Format.Recent(m), Format.Note(m, now));
        }
        table.WriteTo(output);
        foreach (MachineState m in machines.Where(m => m.Unreachable is not null))
        {
            output.WriteLine($"{m.Name}: unreachable since {Format.Time(m.Since)}: {TerminalText.Escape(m.Unreachable)}");
        }
    }
}
