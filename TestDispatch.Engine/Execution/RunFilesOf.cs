using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Transports;

namespace TestDispatch.Engine.Execution;

internal static class RunFilesOf
{
    /// <summary>Where a run's files are in the state dir, as the agent names them to a transport.</summary>
    public static RunFiles Files(this StatePaths paths, string runId) => new(runId, paths.RunDir(runId), paths.Log(runId), paths.Artifacts(runId));
}
