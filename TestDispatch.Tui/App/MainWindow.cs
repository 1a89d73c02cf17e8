using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>
/// The main screen: tabs Machines / Runs / Batches over one list each, a filter line, a message line
/// and the key hints. It refreshes itself from the store every second off the UI thread, keeping the
/// selection and scroll position; every action is an engine call, run in the background.
/// </summary>
public sealed class MainWindow : Window
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(1);
    private static readonly string[] TabNames = ["Machines", "Runs", "Batches"];

    private readonly IApplication _app;
    private readonly Lab _lab;
    private readonly Theme _theme;
    private readonly PlainLabel _header = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 1 };
    private readonly ListGrid _machines;
    private readonly ListGrid _runs;
    private readonly ListGrid _batches;
    private readonly PlainLabel _noBatches = new()
    {
        X = 1,
        Y = 4,
        Width = Dim.Fill(),
        Height = 2,
        Visible = false,
        Text = "No batches yet. Submit a plan of tests across machines with\n'testdispatch batch submit PLAN.json' (see examples/plans/).",
    };
    private readonly PlainLabel _noRuns = new()
    {
        X = 1,
        Y = 3,
        Width = Dim.Fill(),
        Height = 2,
        Visible = false,
        Text = "No runs yet: press d to dispatch a test, such as examples/pass, to a machine;\nor 'testdispatch run examples/pass --machine local-1' in a shell.",
    };
    private readonly TextField _filter = new() { X = 9, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Visible = false };
    private readonly PlainLabel _filterLabel = new() { X = 0, Y = Pos.AnchorEnd(2), Text = "filter /", Visible = false };
    private readonly PlainLabel _message = new() { X = 0, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Height = 1 };
    private readonly StatusBar _statusBar;
    private readonly Shortcut _rerunKey = new(new Key('r'), "re-run", null);

    private int _tab = 1;
    private ScreenQuery _query = new();
    private ScreenData? _data;
    private RunsView _runsView = RunsView.Empty;
    private IReadOnlyList<Batch> _batchList = [];
    private bool _relist;
    private DateTime _runsDay = DateTime.Now.Date;
    private object? _timer;
    private bool _loading;
    private bool _reloadQueued;
    private Func<Task>? _confirm;
    private string _declined = "";
    private readonly CancellationToken _closing;

    public MainWindow(IApplication app, Lab lab, Theme theme, CancellationToken closing = default)
    {
        _closing = closing;
        _app = app;
        _lab = lab;
        _theme = theme;
        Title = "TestDispatch";
        _machines = List(theme, new MachinesTable([]));
        _runs = List(theme, new RunsTable(RunsView.Empty));
        _batches = List(theme, new BatchesTable([], DateTimeOffset.UtcNow));

        _statusBar = new StatusBar([
            new Shortcut(Key.Enter, "open", null),
            new Shortcut(new Key('/'), "filter", null),
            new Shortcut(new Key('d'), "dispatch", null),
            new Shortcut(new Key('x'), "cancel", null),
            _rerunKey,
            new Shortcut(new Key('?'), "help", null),
            new Shortcut(new Key('q'), "quit", null),
        ]);

        Add(_header, _machines, _runs, _batches, _noBatches, _noRuns, _filterLabel, _filter, _message, _statusBar);
        foreach (View view in new View[] { _machines, _runs, _batches, this })
        {
            view.KeyDown += (_, key) =>
            {
                if (!key.Handled && HandleKey(key))
                {
                    key.Handled = true;
                }
            };
        }
        _filter.KeyDown += (_, key) => key.Handled = key.Handled || HandleFilterKey(key);
        _filter.TextChanged += (_, _) => SetQuery(WithText(_filter.Text));
        _machines.Accepting += (_, e) =>
        {
            e.Handled = true;
            OpenSelected();
        };
        _runs.SelectionMoved += row =>
        {
            // Near the end of what is loaded, and there may be more: load another page.
            if (row >= _runsView.Count - 100 && _runsView.Count >= _query.RunsShown)
            {
                SetQuery(_query with { RunsShown = _query.RunsShown + ScreenQuery.RunsPage });
            }
        };
        _runs.Accepting += (_, e) =>
        {
            e.Handled = true;
            OpenSelected();
        };
        _batches.Accepting += (_, e) =>
        {
            e.Handled = true;
            OpenSelected();
        };

        ShowTab(1);
        Reload();
        _timer = app.AddTimeout(RefreshEvery, () =>
        {
            Reload();
            return true;
        });
    }

    private static ListGrid List(Theme theme, GridSource rows) =>
        new(theme) { X = 0, Y = 1, Width = Dim.Fill(), Height = Dim.Fill(2), Source = rows };

    /// <summary>How many loads have been applied (for benchmarks and tests to tell a refresh has landed).</summary>
    public int Refreshes { get; private set; }

    /// <summary>For tests and shutdown: stop the periodic refresh.</summary>
    public void StopRefreshing()
    {
        if (_timer is not null)
        {
            _app.RemoveTimeout(_timer);
            _timer = null;
        }
    }

    /// <summary>Loads the lists in the background and shows them; a load already under way is followed by one more.</summary>
    public void Reload()
    {
        if (_loading)
        {
            _reloadQueued = true;
            return;
        }
        _loading = true;
        ScreenQuery query = _query;
        ScreenData? previous = _data;
        bool relist = _relist;
        _relist = false;
        _ = Task.Run(async () =>
        {
            ScreenData? data = null;
            string? error = null;
            try
            {
                data = ScreenData.Load(_lab, query, previous, relist);
                // Runs outlive agents: if the agent died, a new one takes over what it followed.
                await _lab.KeepAgentAsync();
            }
            catch (DispatchException e)
            {
                error = $"{e.ErrorCode}: {e.Message}";
            }
            catch (IOException e)
            {
                error = $"could not read the state dir: {e.Message}";
            }
            _app.Invoke(() =>
            {
                _loading = false;
                if (data is not null)
                {
                    Apply(data);
                }
                else
                {
                    _relist |= relist; // the next refresh must still list everything again
                }
                if (error is not null)
                {
                    Say(error);
                }
                if (_reloadQueued)
                {
                    _reloadQueued = false;
                    Reload();
                }
            });
        });
    }

    private void Apply(ScreenData data)
    {
        if (_data is null)
        {
            // The first load read the whole store (tens of MB for 100k runs) and left its buffers as garbage;
            // give that memory back once, so a long-open app stays small.
            _ = Task.Run(() => GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true));
        }
        _data = data;
        Refreshes++;
        if (data.Batches is not null || _batchList.Any(b => !b.IsTerminal)) // running batches' ages move on
        {
            _batchList = data.Batches ?? _batchList;
            _batches.Source = new BatchesTable(_batchList, DateTimeOffset.UtcNow);
        }
        _noBatches.Visible = _tab == 2 && _batchList.Count == 0 && _query.BatchText.Length == 0;
        _machines.Source = new MachinesTable(data.Machines);
        if (data.AllRuns is { } all)
        {
            _runsView = new RunsView(all, data.RunFilter);
            _runs.Source = new RunsTable(_runsView);
        }
        else
        {
            PatchRuns(data.ChangedRuns!);
        }
        ShowNoRuns();
        UpdateHeader();
    }

    /// <summary>
    /// A refresh that touches only what changed: changed runs are replaced in their rows, new ones go on top, and the
    /// table is drawn again only if a row on screen changed (or a running run's duration is on screen).
    /// </summary>
    private void PatchRuns(IReadOnlyList<RunRecord> changed)
    {
        List<int> rows = [];
        if (!_runsView.TryPatch(changed, out int added, rows))
        {
            _relist = true; // a run left or joined the filtered list in the middle: list again
            _reloadQueued = true;
            return;
        }
        int first = _runs.TopRow;
        int last = first + _runs.Viewport.Height;
        bool visibleChange = added > 0 || rows.Any(r => r >= first && r <= last);
        bool running = false;
        for (int r = first; r <= last && r < _runsView.Count && !running; r++)
        {
            running = _runsView[r].Status == RunStatus.Running;
        }
        DateTime today = DateTime.Now.Date; // STARTED shows the clock for today's runs, the date for older ones
        if (visibleChange || running || today != _runsDay) // the durations of running runs move on
        {
            _runsDay = today;
            _runs.Refresh(); // draws only the lines that changed on screen
        }
    }

    /// <summary>An empty Runs tab says what to do, unless a filter or a machine scope emptied it.</summary>
    private void ShowNoRuns() =>
        _noRuns.Visible = _tab == 1 && _data is not null && _runsView.Count == 0 && _query.RunText.Length == 0 && _query.Machine is null;

    private void UpdateHeader()
    {
        string tabs = string.Join("  ", TabNames.Select((name, i) => i == _tab ? $"[{i + 1} {name}]" : $" {i + 1} {name} "));
        string scope = _query.Machine is { } m ? $"  machine: {m} (Esc: all)" : "";
        string text = FilterText();
        string filter = text.Length > 0 ? $"  filter: {text}" : "";
        string count = _data is null ? "" : _tab switch
        {
            0 => $"  {Count(_data.Machines.Count, "machine")}",
            1 => $"  {Count(_runsView.Count, "run")}",
            _ => $"  {Count(_batchList.Count, "batch")}",
        };
        _header.Text = tabs + scope + filter + count;
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}{(noun.EndsWith('h') ? "es" : "s")}";

    private void ShowTab(int tab)
    {
        _tab = tab;
        _machines.Visible = tab == 0;
        _runs.Visible = tab == 1;
        _batches.Visible = tab == 2;
        _noBatches.Visible = tab == 2 && _data is not null && _batchList.Count == 0 && _query.BatchText.Length == 0;
        ShowNoRuns();
        (_rerunKey.Key, _rerunKey.Title) = tab switch
        {
            0 => (new Key('D'), "drain, u resume"),
            2 => (new Key('R'), "rerun failed"),
            _ => (new Key('r'), "re-run"),
        };
        CurrentTable.SetFocus();
        if (_filter.Visible)
        {
            CloseFilter(keep: true);
        }
        UpdateHeader();
    }

    private bool HandleKey(Key key)
    {
        if (_confirm is { } confirmed)
        {
            _confirm = null;
            if (key == new Key('y') || key == new Key('Y'))
            {
                _ = confirmed();
            }
            else
            {
                Say(_declined);
            }
            return true;
        }
        switch (key)
        {
            case var k when k == new Key('q') || k == Key.C.WithCtrl:
                _app.RequestStop();
                return true;
            case var k when k == new Key('1'):
                ShowTab(0);
                return true;
            case var k when k == new Key('2'):
                ShowTab(1);
                return true;
            case var k when k == new Key('3'):
                ShowTab(2);
                return true;
            case var k when k == Key.Tab:
                ShowTab((_tab + 1) % 3);
                return true;
            case var k when k == new Key('/'):
                OpenFilter();
                return true;
            case var k when k == Key.Esc:
                if (_query.Machine is not null)
                {
                    SetQuery(_query with { Machine = null });
                }
                else if (FilterText().Length > 0)
                {
                    SetQuery(WithText(""));
                }
                return true;
            case var k when k == new Key('l'):
                OpenSelected();
                return true;
            case var k when k == new Key('d'):
                OpenDispatch();
                return true;
            case var k when k == new Key('x'):
                AskCancel();
                return true;
            case var k when k == new Key('r'):
                Redispatch();
                return true;
            case var k when k == new Key('R'):
                RerunFailed();
                return true;
            case var k when k == new Key('D') && _tab == 0:
                AskDrain();
                return true;
            case var k when k == new Key('u') && _tab == 0:
                AskResume();
                return true;
            case var k when k == new Key('?'):
                HelpWindow.Show(_app, HelpWindow.MainKeys);
                AfterNestedView();
                return true;
            default:
                return false;
        }
    }

    private bool HandleFilterKey(Key key)
    {
        if (key == Key.Esc)
        {
            _filter.Text = "";
            CloseFilter(keep: false);
            return true;
        }
        if (key == Key.Enter)
        {
            CloseFilter(keep: true);
            return true;
        }
        return false;
    }

    private ListGrid CurrentTable => _tab switch
    {
        0 => _machines,
        1 => _runs,
        _ => _batches,
    };

    private string FilterText() => _tab switch
    {
        0 => _query.MachineText,
        1 => _query.RunText,
        _ => _query.BatchText,
    };

    private ScreenQuery WithText(string text) => _tab switch
    {
        0 => _query with { MachineText = text },
        1 => _query with { RunText = text },
        _ => _query with { BatchText = text },
    };

    private void OpenFilter()
    {
        _filter.Text = FilterText();
        _filter.Visible = _filterLabel.Visible = true;
        _message.Visible = false;
        _filter.SetFocus();
    }

    private void CloseFilter(bool keep)
    {
        _filter.Visible = _filterLabel.Visible = false;
        _message.Visible = true;
        if (!keep)
        {
            SetQuery(WithText(""));
        }
        CurrentTable.SetFocus();
    }

    private void SetQuery(ScreenQuery query)
    {
        _query = query;
        UpdateHeader();
        Reload();
    }

    private MachineState? SelectedMachine() =>
        _machines.Source is MachinesTable m && _machines.SelectedRow >= 0 ? m.Machines[_machines.SelectedRow] : null;

    private Run? SelectedRun() =>
        _runs.Source is RunsTable r && _runs.SelectedRow >= 0 ? r.Runs[_runs.SelectedRow] : null;

    private Batch? SelectedBatch() =>
        _batches.Source is BatchesTable b && _batches.SelectedRow >= 0 ? b.Batches[_batches.SelectedRow] : null;

    /// <summary>Enter: a machine drills into its runs; a run opens the run view; a batch its entries.</summary>
    private void OpenSelected()
    {
        if (_tab == 0 && SelectedMachine() is { } machine)
        {
            _query = _query with { Machine = machine.Name, RunText = "" };
            ShowTab(1);
            Reload();
        }
        else if (_tab == 1 && SelectedRun() is { } run)
        {
            OpenRun(run.Id);
        }
        else if (_tab == 2 && SelectedBatch() is { } batch)
        {
            using BatchWindow view = new(_app, _lab, _theme, batch.Id);
            _app.Run(view);
            view.StopRefreshing();
            AfterNestedView();
        }
    }

    private void OpenRun(string id)
    {
        using RunWindow view = new(_app, _lab, _theme, id);
        _app.Run(view);
        view.StopRefreshing();
        AfterNestedView();
    }

    /// <summary>A nested view ended: if the app is closing (SIGHUP, SIGTERM) this window goes too, else it catches up.</summary>
    private void AfterNestedView()
    {
        if (_closing.IsCancellationRequested)
        {
            _app.RequestStop();
            return;
        }
        Reload();
    }

    private void OpenDispatch()
    {
        string? machine = _tab == 0 ? SelectedMachine()?.Name : SelectedRun()?.Machine;
        using DispatchDialog dialog = new(_app, _lab, machine);
        _app.Run(dialog);
        AfterNestedView();
        if (dialog.Dispatched is { } run && !_closing.IsCancellationRequested)
        {
            OpenRun(run.Id);
        }
    }

    private void AskCancel()
    {
        if (_tab == 2)
        {
            AskCancelBatch();
            return;
        }
        (string Id, string Machine, string Status)? target = _tab == 1
            ? SelectedRun() is { } run ? (run.Id, run.Machine, run.Status.ToWord()) : null
            : SelectedMachine() is { CurrentRun: { } current } machine ? (current, machine.Name, "busy") : null;
        if (target is not { } t)
        {
            Say("nothing to cancel here");
            return;
        }
        if (_tab == 1 && SelectedRun()!.Status.IsTerminal())
        {
            Say($"run {t.Id} has already ended ({t.Status})");
            return;
        }
        Say($"Cancel run {t.Id} on {t.Machine} ({t.Status})? y to confirm, any other key to keep it");
        _declined = "not cancelled";
        _confirm = () => Act($"cancelling {t.Id}…", async () =>
        {
            Run after = await _lab.CancelAsync(t.Id);
            return $"run {after.Id}: {(after.Status.IsTerminal() ? after.Status.ToWord() : "stopping")}";
        });
    }

    private void AskCancelBatch()
    {
        if (SelectedBatch() is not { } batch || batch.IsTerminal)
        {
            Say(SelectedBatch() is { } ended ? $"batch {ended.Id} has already ended ({ended.Status.ToWord()})" : "nothing to cancel here");
            return;
        }
        Say($"Cancel batch {batch.Name} ({batch.Id}, {Cli.Format.Progress(batch)} done)? y to confirm, any other key to keep it");
        _declined = "not cancelled";
        _confirm = () => Act($"cancelling batch {batch.Id}…", async () =>
        {
            Batch after = await _lab.CancelBatchAsync(batch.Id);
            return $"batch {after.Id}: {(after.IsTerminal ? after.Status.ToWord() : "cancelling")}";
        });
    }

    /// <summary>D on Machines: take the machine out of service (its current run finishes; its queue waits for the resume).</summary>
    private void AskDrain()
    {
        if (SelectedMachine() is not { } machine)
        {
            Say("select a machine to drain it");
            return;
        }
        if (machine.Drained is not null)
        {
            Say($"{machine.Name} is already drained ({Cli.Format.Note(machine, DateTimeOffset.UtcNow)}); u resumes it");
            return;
        }
        // Short enough for 80 columns: the confirmation key must stay on screen.
        string current = machine.CurrentRun is { } run ? $"run {run} finishes, then " : "";
        Say($"Drain {machine.Name}? y to confirm ({current}no new work)");
        _declined = $"{machine.Name} not drained";
        _confirm = () => Act($"draining {machine.Name}…", async () =>
        {
            MachineState after = await _lab.DrainAsync(machine.Name, "from the terminal app", cancelQueue: false);
            return $"{after.Name} {after.State}" + (after.Queue.Count > 0 ? $"; {after.Queue.Count} queued runs wait for the resume" : "");
        });
    }

    /// <summary>u on Machines: put a drained, unhealthy or dirty machine back in service (after its health check, if it has one).</summary>
    private void AskResume()
    {
        if (SelectedMachine() is not { } machine)
        {
            Say("select a machine to resume it");
            return;
        }
        if (machine.Drained is null && machine.Health is MachineHealth.Healthy or MachineHealth.Failing)
        {
            Say($"{machine.Name} is in service; nothing to resume");
            return;
        }
        Say($"Resume {machine.Name} ({machine.State})? y to confirm, any other key: no");
        _declined = $"{machine.Name} left {machine.State}";
        _confirm = () => Act($"resuming {machine.Name}…", async () =>
        {
            MachineState after = await _lab.ResumeAsync(machine.Name);
            return after.Health == MachineHealth.Checking ? $"{after.Name} checking: {after.HealthReason}" : $"{after.Name} back in service ({after.State})";
        });
    }

    private void RerunFailed()
    {
        if (_tab != 2 || SelectedBatch() is not { } batch)
        {
            Say("select a batch on the Batches tab (3) to rerun its failures");
            return;
        }
        _ = Act($"rerunning what did not pass in {batch.Id}…", async () =>
            $"new batch {(await _lab.RerunBatchAsync(batch.Id, failedOnly: true)).Id}");
    }

    private void Redispatch()
    {
        if (_tab != 1 || SelectedRun() is not { } run)
        {
            Say("select a run to re-run it");
            return;
        }
        _ = Act($"re-running {run.TestDir} on {run.Machine}…", async () =>
        {
            PrepareOutcome outcome = await _lab.RedispatchAsync(run.Id);
            return outcome.Kind switch
            {
                PrepareKind.Busy => $"machine_busy: {run.Machine} is busy with run {outcome.Run.Id}",
                PrepareKind.Reused => $"already {outcome.Run.Status.ToWord()} as run {outcome.Run.Id}",
                _ => $"dispatched run {outcome.Run.Id}",
            };
        });
    }

    /// <summary>Runs an engine action in the background with a message while it is in flight, then reports.</summary>
    private Task Act(string inFlight, Func<Task<string>> action)
    {
        Say(inFlight);
        return EngineAction.Run(_app, action, result =>
        {
            Say(result);
            Reload();
        });
    }

    private void Say(string text) => _message.Text = text.ReplaceLineEndings(" ");
}
