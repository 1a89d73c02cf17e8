using TestDispatch.Engine.Errors;

namespace TestDispatch.Engine.Runs;

/// <summary>
/// The legal moves of a run: pending → running → terminal, or pending → terminal; terminal is final. One move back: a run
/// whose machine turned out to be held by another engineer's run goes from running back to pending, its test never started
/// (no start time, no process), with <see cref="ErrorCodes.MachineBusyElsewhere"/> saying why it waits.
/// </summary>
public static class RunTransitions
{
    public static void Check(RunRecord before, RunRecord after)
    {
        Run from = before.Run;
        Run to = after.Run;
        if (to.Id != from.Id || to.Machine != from.Machine || to.TestDirHash != from.TestDirHash || after.Seq != before.Seq)
        {
            throw Illegal(from, "its id, machine, test dir hash and creation order never change");
        }
        if (from.Status.IsTerminal())
        {
            throw Illegal(from, $"it is already {from.Status.ToWord()}, and a terminal run never changes");
        }
        if (to.Status == RunStatus.Pending && from.Status != RunStatus.Pending && !IsBackToWaiting(after))
        {
            throw Illegal(from, $"it cannot go back from {from.Status.ToWord()} to pending");
        }
    }

    private static bool IsBackToWaiting(RunRecord after) =>
        after is { Process: null, Run: { ErrorCode: ErrorCodes.MachineBusyElsewhere, StartedAt: null } };

    private static DispatchException Illegal(Run run, string why) =>
        new(ErrorCodes.IllegalTransition, $"run {run.Id} cannot be changed that way: {why}");
}
