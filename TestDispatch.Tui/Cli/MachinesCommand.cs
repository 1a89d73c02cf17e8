using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Machines;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>machines [--json]</c>: every configured machine and what occupies it; <c>--holders</c>: who holds each one right now,
/// seen on the machine itself, whichever state dir dispatched the run (the lab as it is).
/// </summary>
public static class MachinesCommand
{
    public static Command Build(GlobalOptions global)
    {
        Option<bool> json = GlobalOptions.Json();
        Option<bool> holders = new("--holders") { Description = "Look at every machine's lock: who holds it now, from any state dir or controller" };
        Command command = new("machines", "List the configured machines: what each is doing, its queue, health and last verdicts") { json, holders };
        command.SetAction(async (parse, cancellationToken) =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            return parse.GetValue(holders)
                ? await Reading.PrintAsync(parse, json, await lab.HoldersAsync(cancellationToken), ContractJson.Default.IReadOnlyListMachineHolder, WriteHolders)
                : await Reading.PrintAsync(parse, json, await lab.MachinesAsync(cancellationToken: cancellationToken), ContractJson.Default.IReadOnlyListMachineState, Write);
        });
        return command;
    }

    private static void WriteHolders(TextWriter output, IReadOnlyList<MachineHolder> holders)
    {
        TextTable table = new("NAME", "HELD BY", "SINCE", "RUN", "STATE DIR", "TEST DIR");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (MachineHolder m in holders)
        {
            table.Add(m.Name, m.HeldBy is { } h ? $"{h.User}@{h.Host}" : m.Error is null ? "free" : $"? {m.Error}",
                Format.When(m.HeldBy?.Since, now), m.HeldBy?.RunId ?? "-", m.HeldBy?.StateDir ?? "-", m.HeldBy?.TestDir ?? "-");
        }
        table.WriteTo(output);
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
        foreach (MachineState m in machines.Where(m => m.Slurm is not null))
        {
            output.WriteLine($"{m.Name}: Slurm: {TerminalText.Escape(m.Slurm)}");
        }
        foreach (MachineState m in machines.Where(m => m.Unreachable is not null))
        {
            output.WriteLine($"{m.Name}: unreachable since {Format.Time(m.Since)}: {TerminalText.Escape(m.Unreachable)}");
        }
    }
}
