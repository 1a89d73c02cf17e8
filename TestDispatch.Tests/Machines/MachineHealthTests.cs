using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tests.Machines;

/// <summary>The health rule and placement as pure functions over the fleet's record.</summary>
[Trait("Category", "Unit")]
public sealed class MachineHealthTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private static readonly HealthRules Rules = new();

    private static Machine Rig(string name, params string[] tags) => new() { Name = name, Transport = TransportKind.Local, Tags = tags };

    private static int _seq;

    private static RunRecord Ended(string machine, RunStatus status, string errorCode = "", IReadOnlyList<int>? leftovers = null)
    {
        string id = $"run{Interlocked.Increment(ref _seq):D9}";
        return new RunRecord
        {
            Run = new Run
            {
                Id = id, Machine = machine, TestDir = "/t", TestDirHash = "h", Status = status, ArtifactsPath = "/a", LogsPath = "/l",
                ErrorCode = errorCode, StartedAt = Now, EndedAt = Now,
            },
            Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)),
            Seq = _seq,
            CreatedAt = Now,
            Leftovers = leftovers,
        };
    }

    private static FleetRecord Apply(FleetRecord fleet, IReadOnlyList<Machine> machines, params RunRecord[] runs) =>
        runs.Aggregate(fleet, (f, r) => MachineHealth.Record(f, r, machines, Rules, Now));

    [Fact]
    public void Three_infrastructure_failures_in_a_row_hold_a_machine_and_a_test_failure_between_resets_the_count()
    {
        Machine[] fleet = [Rig("a", "x"), Rig("b", "x")];

        FleetRecord broken = Apply(FleetRecord.Empty, fleet, Ended("a", RunStatus.Failed, ErrorCodes.CopyFailed), Ended("a", RunStatus.Failed, ErrorCodes.SpawnFailed),
            Ended("a", RunStatus.Interrupted, ErrorCodes.AgentLost));
        FleetRecord interrupted = Apply(FleetRecord.Empty, fleet, Ended("a", RunStatus.Failed, ErrorCodes.CopyFailed), Ended("a", RunStatus.Failed, ErrorCodes.CopyFailed),
            Ended("a", RunStatus.Failed), Ended("a", RunStatus.Failed, ErrorCodes.CopyFailed));

        Assert.NotNull(broken["a"].UnhealthySince);
        Assert.False(new Placement(fleet, broken).InService("a"));
        Assert.Equal((1, (DateTimeOffset?)null), (interrupted["a"].InfraFailures, interrupted["a"].UnhealthySince));
        Assert.True(new Placement(fleet, interrupted).InService("a"));
    }

    [Fact]
    public void The_cap_never_holds_more_than_half_of_the_machines_of_a_tag()
    {
        Machine[] fleet = [Rig("a", "gpu"), Rig("b", "gpu"), Rig("c", "gpu"), Rig("d", "cpu"), Rig("e", "cpu")];
        FleetRecord record = FleetRecord.Empty;
        foreach (string machine in new[] { "a", "b", "c" })
        {
            record = Apply(record, fleet, [.. Enumerable.Range(0, 3).Select(_ => Ended(machine, RunStatus.Failed, ErrorCodes.CopyFailed))]);
        }

        Assert.Equal(1, fleet.Count(m => record[m.Name].UnhealthySince is not null)); // half of 3 gpu machines is 1.5: one held
        Assert.Equal(MachineHealth.Failing, MachineHealth.Status(record["c"], Rules));
    }

    [Fact]
    public void Leftovers_mark_the_machine_dirty_and_it_starts_nothing_until_resumed()
    {
        Machine[] fleet = [Rig("a")];
        RunRecord ended = Ended("a", RunStatus.Interrupted, ErrorCodes.Interrupted, leftovers: [4242, 4243]);

        FleetRecord record = Apply(FleetRecord.Empty, fleet, ended);

        Assert.Equal(ended.Id, record["a"].Dirty!.Run);
        Assert.Equal([4242, 4243], record["a"].Dirty!.Pids);
        Assert.False(new Placement(fleet, record).MayStart(Ended("a", RunStatus.Pending)));
        Assert.Equal(MachineHealth.Dirty, MachineHealth.Status(record["a"], Rules));
    }

    [Fact]
    public void A_retry_skips_the_machine_where_it_failed_while_another_in_service_may_run_it()
    {
        Machine[] fleet = [Rig("a", "x"), Rig("b", "x")];
        BatchEntry entry = new() { Name = "e", TestDir = "/t", TestDirHash = "h", Tags = ["x"], Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)), Retries = 1 };
        LatestTry failedOnA = LatestTry.Of(Ended("a", RunStatus.Failed, ErrorCodes.CopyFailed));
        FleetRecord drainedB = FleetRecord.Empty.With("b", new MachineRecord { Drained = new DrainMark("me", Now, "") });

        Assert.False(new Placement(fleet, FleetRecord.Empty).Takes("a", entry, failedOnA));
        Assert.True(new Placement(fleet, FleetRecord.Empty).Takes("b", entry, failedOnA));
        Assert.True(new Placement(fleet, drainedB).Takes("a", entry, failedOnA)); // the only one left that may run it
        Assert.True(new Placement(fleet, FleetRecord.Empty).Takes("a", entry, LatestTry.Of(Ended("a", RunStatus.Failed)))); // not a retry
    }
}
