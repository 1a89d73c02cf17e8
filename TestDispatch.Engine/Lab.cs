using System.IO.Abstractions;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine;

/// <summary>
/// The engine's front door: what the CLI and the TUI both call. Holds the configuration and the store
/// of one state dir; the faces translate its results into text, never add rules of their own.
/// </summary>
public sealed class Lab(LabConfig config, RunStore store, IFileSystem fs)
{
    public LabConfig Config => config;

    public RunStore Store => store;

    public IFileSystem FileSystem => fs;

    /// <summary>A lab on the real disk with the real flock, at the configured state dir.</summary>
    public static Lab Open(LabConfig config)
    {
        FileSystem fs = new();
        return new Lab(config, new RunStore(fs, new FlockFileLocks(), config.StateDir), fs);
    }

    public IReadOnlyList<MachineState> Machines()
    {
        Dictionary<string, RunRecord> active = [];
        foreach (RunRecord record in store.Active())
        {
            active.TryAdd(record.Run.Machine, record);
        }
        Dictionary<string, RunStatus> last = [];
        foreach (RunRecord record in store.List(new RunFilter(Limit: 2_000)))
        {
            if (record.Run.Status.IsTerminal())
            {
                last.TryAdd(record.Run.Machine, record.Run.Status);
            }
        }
        return [.. config.Machines.Select(machine => new MachineState(machine)
        {
            State = active.ContainsKey(machine.Name) ? MachineState.Busy : MachineState.Idle,
            CurrentRun = active.GetValueOrDefault(machine.Name)?.Id,
            LastStatus = last.TryGetValue(machine.Name, out RunStatus status) ? status : null,
        })];
    }

    public IReadOnlyList<Run> Runs(RunFilter filter) => [.. store.List(filter).Select(r => r.Run)];

    /// <summary>The run with this id or unique id prefix.</summary>
    public Run Show(string idOrPrefix) => store.Find(idOrPrefix).Run;

    public Machine RequireMachine(string name) => config.FindMachine(name) ?? throw new DispatchException(
        ErrorCodes.MachineUnknown,
        $"no machine named '{name}'; configured machines: {string.Join(", ", config.Machines.Select(m => m.Name))}");
}
