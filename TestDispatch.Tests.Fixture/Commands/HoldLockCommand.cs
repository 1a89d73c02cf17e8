using System.IO.Abstractions;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Tests.Fixture.Commands;

/// <summary>Takes the state lock, says <c>locked</c>, and keeps it until killed: a stuck or crashing lock holder.</summary>
internal static class HoldLockCommand
{
    public static int Run(string stateDir)
    {
        StateDirectory.Ensure(new FileSystem(), stateDir);
        StatePaths paths = new(Path.GetFullPath(stateDir));
        using IDisposable held = new FlockFileLocks().Acquire(paths.StateLock, TimeSpan.FromSeconds(30));
        Console.WriteLine("locked");
        Console.Out.Flush();

        // Meant to be killed. The cap only keeps an orphan from living on if the test run itself dies first.
        Thread.Sleep(TimeSpan.FromMinutes(5));
        return 0;
    }
}
