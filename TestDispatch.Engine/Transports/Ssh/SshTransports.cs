using System.Collections.Concurrent;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// The agent's ssh transports, one per machine (so one master connection each), and what the agent last learnt of each
/// machine's reachability, kept in <see cref="Reachability"/> for <c>machines</c>, the TUI and <c>doctor</c>. When a
/// machine is idle, a look at its master at most once a minute keeps that current (the master's keep-alives notice a
/// dead link; a dead master is started again, which is the one round trip).
/// </summary>
public sealed class SshTransports(StatePaths paths, TimeSpan persist, TextWriter log) : IAsyncDisposable
{
    public static readonly TimeSpan CheckEvery = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, SshTransport> _transports = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _checked = new(StringComparer.Ordinal);
    private readonly Reachability _reachability = new(paths);

    /// <summary>The transport for a machine as it is defined now (a changed definition gets a connection of its own).</summary>
    public ITransport For(Machine machine) => _transports.GetOrAdd(
        string.Join('\n', machine.Name, SshEndpoint.ControlPathFor(machine, paths.Root), machine.WorkRoot, machine.KeepWorkDir),
        _ =>
        {
            SshTransport transport = new(machine, paths, persist, log);
            transport.Connection.Contact += (reachable, why) => _reachability.Record(machine.Name, reachable, why);
            return transport;
        });

    /// <summary>Checks the idle machines not checked within <see cref="CheckEvery"/>; failures are recorded, never thrown.</summary>
    public async Task CheckIdleAsync(IEnumerable<Machine> idle, CancellationToken cancellationToken)
    {
        foreach (Machine machine in idle.Where(m => m.Transport == TransportKind.Ssh))
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            if (_checked.TryGetValue(machine.Name, out DateTimeOffset last) && now - last < CheckEvery)
            {
                continue;
            }
            _checked[machine.Name] = now;
            try
            {
                await ((SshTransport)For(machine)).Connection.ProbeAsync(cancellationToken);
            }
            catch (SshException)
            {
                // Recorded by the connection's Contact event.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (SshTransport transport in _transports.Values)
        {
            await transport.DisposeAsync();
        }
    }
}
