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
        Command command = new("machines", "List the configured machines: idle or busy, and with which run") { json };
        command.SetAction(parse =>
        {
            IReadOnlyList<MachineState> machines = global.OpenLab(parse).Machines();
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
            {
                output.WriteLine(JsonSerializer.Serialize(machines, ContractJson.Default.IReadOnlyListMachineState));
                return ExitCodes.Passed;
            }
            TextTable table = new("NAME", "TRANSPORT", "HOST", "TAGS", "STATE", "CURRENT RUN", "LAST");
            foreach (MachineState m in machines)
            {
                table.Add(m.Name, m.Transport, m.Host ?? "-", Format.Tags(m.Tags), m.State, m.CurrentRun ?? "-", m.LastStatus?.ToWord() ?? "-");
            }
            table.WriteTo(output);
            return ExitCodes.Passed;
        });
        return command;
    }
}
