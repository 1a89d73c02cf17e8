using System.Collections.Concurrent;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// The agent's ssh transports, one per machine (so one master connection each). Every answer from a machine, and every
/// failure to reach one, is told through <see cref="Contact"/> (the agent records it for <c>machines</c>, the app and
/// <c>doctor</c>). When a machine is idle, a look at its master at most once a minute keeps that current (the master's
/// keep-alives notice a dead link; a dead master is started again, which is the one round trip).
/// </summary>
/// <param name="socketRoot">Where masters' sockets go (see <see cref="SshEndpoint.ControlPathFor"/>): the state dir.</param>
public sealed class SshTransports(string socketRoot, TimeSpan persist, TimedLog log) : IAsyncDisposable
{
    public static readonly TimeSpan CheckEvery = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, SshTransport> _transports = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _checked = new(StringComparer.Ordinal);

    /// <summary>A machine answered (true) or could not be reached (false, with why): machine name, reachable, why.</summary>
    public event Action<string, bool, string?>? Contact;

    /// <summary>The transport for a machine as it is defined now (a changed definition gets a connection of its own).</summary>
    public ITransport For(Machine machine) => _transports.GetOrAdd(
        string.Join('\n', machine.Name, SshEndpoint.ControlPathFor(machine, socketRoot), machine.WorkRoot, machine.KeepWorkDir),
        _ =>
        {
            SshTransport transport = new(machine, socketRoot, persist, log);
            transport.Connection.Contact += (reachable, why) => Contact?.Invoke(machine.Name, reachable, why);
            return transport;
        });

    /// <summary>
    /// Checks the idle machines not checked within <see cref="CheckEvery"/>; failures are told through <see cref="Contact"/>,
    /// never thrown. Returns those that answered, for a further look there.
    /// </summary>
    public async Task<IReadOnlyList<Machine>> CheckIdleAsync(IEnumerable<Machine> idle, CancellationToken cancellationToken)
    {
        List<Machine> answered = [];
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
                answered.Add(machine);
            }
            catch (SshException)
            {
                // Told through the connection's Contact event.
            }
        }
        return answered;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (SshTransport transport in _transports.Values)
        {
            await transport.DisposeAsync();
        }
    }
}
