using System.IO.Abstractions;
using TestDispatch.Engine.IO;

namespace TestDispatch.Tests.Fixture.Commands;

/// <summary>Watches a state dir as the agent does and says how: <c>watching</c>, or <c>polling: why</c> when inotify cannot be had.</summary>
internal static class WatchCommand
{
    public static int Run(string stateDir)
    {
        using DirectoryWatcher watcher = new(new FileSystem(), stateDir);
        Console.WriteLine(watcher.WhyPolling is { } why ? $"polling: {why}" : "watching");
        return 0;
    }
}
