namespace TestDispatch.Tests.Support;

/// <summary>A <c>setsid sleep</c> forked at a chosen pid (root writes the pid before it to ns_last_pid); tried until one lands there.</summary>
public sealed class StrangerAt : IDisposable
{
    private readonly System.Diagnostics.Process _process;

    private StrangerAt(System.Diagnostics.Process process) => _process = process;

    public bool Alive => !_process.HasExited;

    public static async Task<StrangerAt> StartAsync(int pid)
    {
        // A pid is also free only once no thread has that number (a thread id is a pid: /proc/TID exists though unlisted).
        await Eventually.True(() => !Directory.Exists($"/proc/{pid}"), what: $"pid {pid} to be free");
        for (int attempt = 0; ; attempt++)
        {
            File.WriteAllText("/proc/sys/kernel/ns_last_pid", (pid - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
            System.Diagnostics.Process process = System.Diagnostics.Process.Start("setsid", ["sleep", "60"]);
            if (process.Id == pid)
            {
                await Eventually.True(() => File.ReadAllText($"/proc/{pid}/stat").Contains("(sleep)", StringComparison.Ordinal), what: "the stranger to be sleep");
                return new StrangerAt(process);
            }
            process.Kill();
            process.Dispose();
            Assert.True(attempt < 50, $"could not fork a process at pid {pid}: another fork took it each time");
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }
        _process.Dispose();
    }
}

/// <summary>
/// The classes whose tests place a process at a chosen pid: rewinding ns_last_pid makes every recently freed pid on the
/// host the next one given out, so every other test's process would meet recycled pids far sooner than on a real host.
/// They run alone, after the parallel tests.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PidPlacement
{
    public const string Name = "pid placement";
}
