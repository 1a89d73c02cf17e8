using System.IO.Abstractions;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Tests.Fixture.Commands;

/// <summary>
/// Makes <c>runs</c> finished runs on a store whose compaction writes history segments often, printing "ack &lt;id&gt;" once
/// each is acknowledged, then compacts (moving them into a segment) and prints "compacted". The crash tests run it with
/// TESTDISPATCH_CRASH_AT set, so it SIGKILLs itself at one step of writing a segment.
/// </summary>
internal static class HistoryCommand
{
    public static readonly StoreOptions Options = new() { RecentRuns = 2, SegmentRuns = 3, CompactAfterLines = 1_000_000 };

    public static int Run(string stateDir, int runs)
    {
        RunStore store = new(new FileSystem(), new FlockFileLocks(), stateDir, options: Options);
        RunSpec spec = new(["./run.sh"], TimeSpan.FromMinutes(5));
        for (int i = 0; i < runs; i++)
        {
            string id = store.Prepare(new PrepareRequest($"m{i % 3}", "/lab/t", $"hash-{Guid.NewGuid()}", spec)).Run.Id;
            store.Update(id, r => r with { Run = r.Run with { Status = RunStatus.Completed, ExitCode = 0, StartedAt = DateTimeOffset.UtcNow, EndedAt = DateTimeOffset.UtcNow } });
            Console.WriteLine($"ack {id}");
        }
        store.Compact();
        Console.WriteLine("compacted");
        return 0;
    }
}
