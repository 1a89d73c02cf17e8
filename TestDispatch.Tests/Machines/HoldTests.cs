using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Machines;

namespace TestDispatch.Tests.Machines;

/// <summary>Which holds a waiter stops on (only a person ends them, and nobody asked) and which it waits through, saying so.</summary>
[Trait("Category", "Unit")]
public sealed class HoldTests
{
    private static readonly DateTimeOffset Since = new(2026, 11, 26, 8, 0, 0, TimeSpan.Zero);
    private static readonly HealthRules Rules = new() { CheckAfter = TimeSpan.FromMinutes(10) };
    private static readonly Machine Rig = new() { Name = "rig-3", Transport = TransportKind.Local };

    [Fact]
    public void A_machine_in_service_holds_nothing()
    {
        Assert.Null(Hold.Of(Rig, MachineRecord.None, Rules));
    }

    [Fact]
    public void A_drain_is_waited_through_naming_who_and_why()
    {
        Hold hold = Hold.Of(Rig, new MachineRecord { Drained = new DrainMark("bob", Since, "new cable") }, Rules)!;

        Assert.Equal((ErrorCodes.MachineDrained, false), (hold.ErrorCode, hold.Stuck));
        Assert.Equal("rig-3 drained by bob at 2026-11-26T08:00:00.000Z (new cable)", hold.Why);
        Assert.Equal("'testdispatch machine resume rig-3'", hold.Lift);
    }

    [Fact]
    public void Health_with_no_health_check_is_stuck_and_with_one_says_when_it_runs_again()
    {
        MachineRecord held = new() { UnhealthySince = Since, UnhealthyWhy = "3 infrastructure failures in a row, the last transport_unreachable in run r1", InfraFailures = 3 };

        Hold stuck = Hold.Of(Rig, held, Rules)!;
        Hold checking = Hold.Of(Rig with { HealthCheck = "/checks/boot" }, held, Rules)!;

        Assert.Equal((ErrorCodes.MachineUnhealthy, true), (stuck.ErrorCode, stuck.Stuck));
        Assert.Equal("rig-3 held after 3 infrastructure failures in a row, the last transport_unreachable in run r1", stuck.Why);
        Assert.False(checking.Stuck);
        Assert.EndsWith("its health check runs again from 2026-11-26T08:10:00.000Z", checking.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dirty_machine_is_stuck_and_a_health_check_in_flight_is_not()
    {
        Hold dirty = Hold.Of(Rig, new MachineRecord { Dirty = new DirtyMark("r2", [41, 42], Since) }, Rules)!;
        Hold check = Hold.Of(Rig, new MachineRecord { CheckRun = "r3", UnhealthySince = Since }, Rules)!;

        Assert.Equal((ErrorCodes.MachineDirty, true), (dirty.ErrorCode, dirty.Stuck));
        Assert.Contains("run r2 left processes alive after SIGKILL (pids 41 42", dirty.Why, StringComparison.Ordinal);
        Assert.Equal((ErrorCodes.MachineUnhealthy, false, "rig-3 waits on its health check, run r3"), (check.ErrorCode, check.Stuck, check.Why));
    }
}
