namespace TestDispatch.Engine.Runs;

/// <summary>
/// The OS process a running run lives in: its process group (the test is a session/group leader, so
/// pgid == pid) and the kernel start time from /proc, so a recycled pid is never mistaken for it.
/// </summary>
public sealed record RunProcess(int ProcessGroupId, long StartTicks, int AgentPid);
