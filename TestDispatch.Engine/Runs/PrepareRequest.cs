namespace TestDispatch.Engine.Runs;

/// <summary>A request to create a pending run of <paramref name="TestDir"/> on <paramref name="Machine"/>.</summary>
/// <param name="Queue">If the machine is busy, join its queue (first in, first out) instead of being refused as busy.</param>
public sealed record PrepareRequest(
    string Machine,
    string TestDir,
    string TestDirHash,
    RunSpec Spec,
    string? BatchId = null,
    string? PlanEntry = null,
    Configuration.Machine? Target = null,
    bool Queue = false);
