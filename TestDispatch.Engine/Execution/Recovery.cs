using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Engine.Execution;

/// <summary>
/// DESIGN §4.4: no run is stranded. Called only while holding agent.lock, so no agent is executing
/// anything: every run still marked running lost its agent. Kills what is left of each one's process
/// group (never a recycled pid: see <see cref="ProcessGroups"/>) and marks it interrupted/agent_lost.
/// </summary>
public static class Recovery
{
    public static IReadOnlyList<Run> Sweep(RunStore store, TimeProvider clock)
    {
        List<Run> recovered = [];
        foreach (RunRecord orphan in store.Active().Where(r => r.Run.Status == RunStatus.Running))
        {
            if (orphan.Process is { } process)
            {
                ProcessGroups.Signal(process, Libc.SIGKILL);
            }
            string agent = orphan.Process is { AgentPid: var pid } ? $" (pid {pid})" : "";
            RunRecord after = store.Update(orphan.Id, r => r.Run.Status != RunStatus.Running ? r : r with
            {
                Run = r.Run with
                {
                    Status = RunStatus.Interrupted,
                    EndedAt = clock.GetUtcNow(),
                    ErrorCode = ErrorCodes.AgentLost,
                    ErrorMsg = $"the agent running this test{agent} died; what was left of the test's processes was killed",
                },
            });
            recovered.Add(after.Run);
        }
        return recovered;
    }
}
