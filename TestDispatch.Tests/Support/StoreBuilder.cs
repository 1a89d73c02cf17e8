using System.IO.Abstractions.TestingHelpers;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Tests.Support;

/// <summary>A run store on a fake disk with the in-memory lock: for fast unit tests of the store's rules.</summary>
public sealed class FakeStateDir
{
    public const string Root = "/state";

    public MockFileSystem Fs { get; } = new();

    public InMemoryFileLocks Locks { get; } = new();

    public StatePaths Paths { get; } = new(Root);

    public RunStore Open(StoreOptions? options = null) => new(Fs, Locks, Root, options: options);
}

/// <summary>Small builders for prepare requests and run changes.</summary>
public static class TestRuns
{
    public static PrepareRequest Request(string machine = "m1", string hash = "hash-a", string testDir = "/tests/a", string? batch = null) =>
        new(machine, testDir, hash, new RunSpec(["./run.sh"], TimeSpan.FromMinutes(5)), batch);

    public static RunRecord Running(RunRecord r) =>
        r with { Run = r.Run with { Status = RunStatus.Running, StartedAt = DateTimeOffset.UtcNow } };

    public static RunRecord Finished(RunRecord r, RunStatus status = RunStatus.Completed, int? exitCode = 0) =>
        r with { Run = r.Run with { Status = status, ExitCode = exitCode, EndedAt = DateTimeOffset.UtcNow } };
}
