using Terminal.Gui.Input;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>The Machines tab: every machine and what it is doing; Enter shows its runs, D drains it, u resumes it.</summary>
public sealed class MachinesTab : TabView
{
    private IReadOnlyList<MachineState> _machines = [];

    public MachinesTab(ITabHost host, Theme theme) : base(host, theme)
    {
        List.Source = new MachinesTable([]);
        List.Accepting += (_, e) =>
        {
            e.Handled = true;
            Open();
        };
    }

    public override string Title => "Machines";

    public override (Key Key, string Title) ActionHint => (new Key('D'), "drain, u resume");

    public override string Count => Plural(_machines.Count, "machine");

    public override string? SelectedMachine => Selected()?.Name;

    public override void Show(ScreenData data)
    {
        _machines = data.Machines;
        List.Source = new MachinesTable(data.Machines);
    }

    public override string FilterOf(ScreenQuery query) => query.MachineText;

    public override ScreenQuery WithFilter(ScreenQuery query, string text) => query with { MachineText = text };

    public override void Open()
    {
        if (Selected() is { } machine)
        {
            Host.ShowRunsOf(machine.Name);
        }
    }

    public override void AskCancel()
    {
        if (Selected() is not { CurrentRun: { } run } machine)
        {
            Host.Say("nothing to cancel here");
            return;
        }
        Host.Confirm($"Cancel run {run} on {machine.Name} (busy)? y to confirm, any other key to keep it", "not cancelled", () =>
            Host.Act($"cancelling {run}…", async () =>
            {
                Run after = await Lab.CancelAsync(run);
                return $"run {after.Id}: {(after.Status.IsTerminal() ? after.Status.ToWord() : "stopping")}";
            }));
    }

    public override bool HandleKey(Key key)
    {
        if (key == new Key('D'))
        {
            AskDrain();
            return true;
        }
        if (key == new Key('u'))
        {
            AskResume();
            return true;
        }
        return false;
    }

    private MachineState? Selected() =>
        List.Source is MachinesTable m && List.SelectedRow >= 0 ? m.Machines[List.SelectedRow] : null;

    /// <summary>D: take the machine out of service (its current run finishes; its queue waits for the resume).</summary>
    private void AskDrain()
    {
        if (Selected() is not { } machine)
        {
            Host.Say("select a machine to drain it");
            return;
        }
        if (machine.Drained is not null)
        {
            Host.Say($"{machine.Name} is already drained ({Format.Note(machine, DateTimeOffset.UtcNow)}); u resumes it");
            return;
        }
        // Short enough for 80 columns: the confirmation key must stay on screen.
        string current = machine.CurrentRun is { } run ? $"run {run} finishes, then " : "";
        Host.Confirm($"Drain {machine.Name}? y to confirm ({current}no new work)", $"{machine.Name} not drained", () =>
            Host.Act($"draining {machine.Name}…", async () =>
            {
                MachineState after = await Lab.DrainAsync(machine.Name, "from the terminal app", cancelQueue: false);
                return $"{after.Name} {after.State}" + (after.Queue.Count > 0 ? $"; {after.Queue.Count} queued runs wait for the resume" : "");
            }));
    }

    /// <summary>u: put a drained, unhealthy or dirty machine back in service (after its health check, if it has one).</summary>
    private void AskResume()
    {
        if (Selected() is not { } machine)
        {
            Host.Say("select a machine to resume it");
            return;
        }
        if (machine.Drained is null && machine.Health is MachineHealth.Healthy or MachineHealth.Failing)
        {
            Host.Say($"{machine.Name} is in service; nothing to resume");
            return;
        }
        Host.Confirm($"Resume {machine.Name} ({machine.State})? y to confirm, any other key: no", $"{machine.Name} left {machine.State}", () =>
            Host.Act($"resuming {machine.Name}…", async () =>
            {
                MachineState after = await Lab.ResumeAsync(machine.Name);
                return after.Health == MachineHealth.Checking ? $"{after.Name} checking: {after.HealthReason}" : $"{after.Name} back in service ({after.State})";
            }));
    }
}
