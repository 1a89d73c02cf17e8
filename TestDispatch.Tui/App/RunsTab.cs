using Terminal.Gui.Input;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// The Runs tab: runs newest first, a page at a time (another as the cursor nears the end), patched in place with what
/// changed at each refresh; Enter opens the run view, r dispatches the run's test again, S searches every log.
/// </summary>
public sealed class RunsTab : TabView
{
    private RunsView _view = RunsView.Empty;
    private DateTime _day = DateTime.Now.Date;
    private bool _toTheEnd;

    public RunsTab(ITabHost host, Theme theme) : base(host, theme)
    {
        List.Source = new RunsTable(RunsView.Empty);
        List.Accepting += (_, e) =>
        {
            e.Handled = true;
            Open();
        };
        List.SelectionMoved += row =>
        {
            // Near the end of what is loaded, and there may be more: load another page.
            if (row >= _view.Count - 100 && MayHaveMore && Host.Query.RunsShown < ScreenQuery.AllRuns)
            {
                Host.SetQuery(Host.Query with { RunsShown = Host.Query.RunsShown + ScreenQuery.RunsPage });
            }
        };
    }

    public override string Title => "Runs";

    public override (Key Key, string Title) ActionHint => (new Key('r'), "re-run");

    /// <summary>"1000+ runs" while a page is full (there may be more than are loaded), else how many there are.</summary>
    public override string Count => MayHaveMore ? $"{_view.Count}+ runs" : Plural(_view.Count, "run");

    /// <summary>Whether what is loaded is a full page: the store may hold more runs that match.</summary>
    private bool MayHaveMore => _view.Count >= Host.Query.RunsShown;

    public override string? SelectedMachine => Selected()?.Machine;

    public override void Show(ScreenData data)
    {
        if (data.AllRuns is { } all)
        {
            _view = new RunsView(all, data.RunFilter);
            List.Source = new RunsTable(_view);
            if (_toTheEnd && data.Query.RunsShown == ScreenQuery.AllRuns)
            {
                _toTheEnd = false;
                List.SelectRow(_view.Count - 1);
                Host.Say($"the oldest of {Plural(_view.Count, "run")}");
            }
        }
        else
        {
            Patch(data.ChangedRuns!);
        }
    }

    /// <summary>
    /// A refresh that touches only what changed: changed runs are replaced in their rows, new ones go on top, and the list
    /// is drawn again only if a row on screen changed (or a running run's duration is on screen).
    /// </summary>
    private void Patch(IReadOnlyList<RunRecord> changed)
    {
        List<int> rows = [];
        if (!_view.TryPatch(changed, out int added, rows))
        {
            Host.Reload(relist: true); // a run left or joined the filtered list in the middle: list again
            return;
        }
        int first = List.TopRow;
        int last = first + List.Viewport.Height;
        bool visibleChange = added > 0 || rows.Any(r => r >= first && r <= last);
        bool running = false;
        for (int r = first; r <= last && r < _view.Count && !running; r++)
        {
            running = _view[r].Status == RunStatus.Running;
        }
        DateTime today = DateTime.Now.Date; // STARTED shows the clock for today's runs, the date for older ones
        if (visibleChange || running || today != _day) // the durations of running runs move on
        {
            _day = today;
            List.Refresh(); // draws only the lines that changed on screen
        }
    }

    public override string? WhenEmpty(ScreenQuery query) => _view.Count == 0 && query.RunText.Length == 0 && query.Machine is null
        ? "No runs yet: press d to dispatch a test, such as examples/pass, to a machine;\n" +
          $"or '{Invocation.Command} run examples/pass --machine local-1' in a shell{NotOnPath}."
        : null;

    public override string FilterOf(ScreenQuery query) => query.RunText;

    public override ScreenQuery WithFilter(ScreenQuery query, string text) => query with { RunText = text };

    public override void Open()
    {
        if (Selected() is { } run)
        {
            Host.OpenRun(run.Id);
        }
    }

    public override void AskCancel()
    {
        if (Selected() is not { } run)
        {
            Host.Say("nothing to cancel here");
            return;
        }
        if (run.Status.IsTerminal())
        {
            Host.Say($"run {run.Id} has already ended ({run.Status.ToWord()})");
            return;
        }
        Host.Confirm($"Cancel run {run.Id} on {run.Machine} ({run.Status.ToWord()})? y to confirm, any other key to keep it", "not cancelled", () =>
            Host.Act($"cancelling {run.Id}…", async () =>
            {
                Run after = await Lab.CancelAsync(run.Id);
                return $"run {after.Id}: {(after.Status.IsTerminal() ? after.Status.ToWord() : "stopping")}";
            }));
    }

    public override bool HandleKey(Key key)
    {
        if ((key == new Key('G') || key == Key.End) && MayHaveMore && Host.Query.RunsShown < ScreenQuery.AllRuns)
        {
            // The end is the oldest run, not the end of the pages loaded so far: load them all, then go there. The list
            // goes to the last run loaded at once (the key goes on to it), and to the real last one when they are in.
            _toTheEnd = true;
            Host.SetQuery(Host.Query with { RunsShown = ScreenQuery.AllRuns });
            Host.Say("loading every run to go to the oldest…");
            return false;
        }
        if (key == new Key('S'))
        {
            Host.SearchLogs();
            return true;
        }
        if (key != new Key('r'))
        {
            return false;
        }
        if (Selected() is not { } run)
        {
            Host.Say("select a run to re-run it");
            return true;
        }
        _ = Host.Act($"re-running {run.TestDir} on {run.Machine}…", async () =>
        {
            PrepareOutcome outcome = await Lab.RedispatchAsync(run.Id);
            return outcome.Kind switch
            {
                PrepareKind.Busy => $"machine_busy: {run.Machine} is busy with run {outcome.Run.Id}",
                PrepareKind.Reused => $"already {outcome.Run.Status.ToWord()} as run {outcome.Run.Id}",
                _ => $"dispatched run {outcome.Run.Id}",
            };
        });
        return true;
    }

    private Run? Selected() =>
        List.Source is RunsTable r && List.SelectedRow >= 0 ? r.Runs[List.SelectedRow] : null;
}
