using System.Collections.Concurrent;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Transports.Slurm;

/// <summary>The agent's Slurm transports, one per machine, sharing one view of the queue (one squeue for all their jobs).</summary>
public sealed class SlurmTransports(TimedLog log) : IDisposable
{
    private readonly SlurmQueue _queue = new();
    private readonly ConcurrentDictionary<string, SlurmTransport> _transports = new(StringComparer.Ordinal);

    /// <summary>The transport for a machine as it is defined now (a changed definition gets one of its own).</summary>
    public ITransport For(Machine machine) => _transports.GetOrAdd(
        string.Join('\n', machine.Name, machine.WorkRoot, machine.Node, machine.Partition, machine.Constraint, machine.KeepWorkDir, string.Join('\0', machine.SlurmOptions)),
        _ => new SlurmTransport(machine, _queue, log));

    public void Dispose() => _queue.Dispose();
}
