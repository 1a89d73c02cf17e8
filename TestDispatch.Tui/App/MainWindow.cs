using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Tui.App;

/// <summary>
/// The main screen: tabs Machines / Runs / Batches (a <see cref="TabView"/> each), a filter line, a message line and the
/// key hints. It refreshes itself from the store every second off the UI thread, keeping the selection and scroll
/// position; every action is an engine call, run in the background.
/// </summary>
public sealed class MainWindow : ScreenWindow, ITabHost
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromSeconds(1);

    private readonly Lab _lab;
    private readonly Theme _theme;
    private readonly TabView[] _tabs;
    private readonly PlainLabel _header = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 1 };
    private readonly PlainLabel _empty = new() { X = 1, Y = 3, Width = Dim.Fill(), Height = 2, Visible = false };
    private readonly TextField _filter = new() { X = 9, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Visible = false };
    private readonly PlainLabel _filterLabel = new() { X = 0, Y = Pos.AnchorEnd(2), Text = "filter /", Visible = false };
    private readonly Shortcut _tabKey = new(new Key('r'), "re-run", null);
    private readonly CancellationToken _closing;

    private TabView _tab;
    private ScreenQuery _query = new();
    private ScreenData? _data;
    private bool _relist;
    private bool _loading;
    private bool _reloadQueued;

    public MainWindow(IApplication app, Lab lab, Theme theme, CancellationToken closing = default) : base(app)
    {
        _closing = closing;
        _lab = lab;
        _theme = theme;
        Title = "TestDispatch";
        _tabs = [new MachinesTab(this, theme), new RunsTab(this, theme), new BatchesTab(this, theme)];
        _tab = _tabs[1];
        StatusBar keys = new([
            new Shortcut(Key.Enter, "open", null),
            new Shortcut(new Key('/'), "filter", null),
            new Shortcut(new Key('d'), "dispatch", null),
            new Shortcut(new Key('x'), "cancel", null),
            _tabKey,
            new Shortcut(new Key('?'), "help", null),
            new Shortcut(new Key('q'), "quit", null),
        ]);
        Add(_header);
        Add([.. _tabs.Select(t => t.List)]);
        Add(_empty, _filterLabel, _filter, Message, keys);
        HandleKeysOf([.. _tabs.Select(t => t.List)]);
        _filter.KeyDown += (_, key) => key.Handled = key.Handled || HandleFilterKey(key);
        _filter.TextChanged += (_, _) => SetQuery(_tab.WithFilter(_query, _filter.Text));
        ShowTab(_tab);
        StartRefreshing(RefreshEvery, () => Reload());
    }

    /// <summary>How many loads have been applied (for benchmarks and tests to tell a refresh has landed).</summary>
    public int Refreshes { get; private set; }

    Lab ITabHost.Lab => _lab;

    ScreenQuery ITabHost.Query => _query;

    /// <summary>Loads the lists in the background and shows them; a load already under way is followed by one more.</summary>
    public void Reload(bool relist = false)
    {
        _relist |= relist;
        if (_loading)
        {
            _reloadQueued = true;
            return;
        }
        _loading = true;
        ScreenQuery query = _query;
        ScreenData? previous = _data;
        bool listAll = _relist;
        _relist = false;
        _ = Task.Run(async () =>
        {
            ScreenData? data = null;
            string? error = null;
            try
            {
                data = await ScreenData.LoadAsync(_lab, query, previous, listAll);
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
            Host.Invoke(() =>
            {
                _loading = false;
                if (data is not null)
                {
                    Apply(data);
                }
                else
                {
                    _relist |= listAll; // the next refresh must still list everything again
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
        foreach (TabView tab in _tabs)
        {
            tab.Show(data);
        }
        ShowEmpty();
        UpdateHeader();
    }

    /// <summary>An empty list says what to do, unless a filter or a machine scope emptied it.</summary>
    private void ShowEmpty()
    {
        string? hint = _data is null ? null : _tab.WhenEmpty(_query);
        _empty.Text = hint ?? "";
        _empty.Visible = hint is not null;
    }

    private void UpdateHeader()
    {
        string tabs = string.Join("  ", _tabs.Select((tab, i) => tab == _tab ? $"[{i + 1} {tab.Title}]" : $" {i + 1} {tab.Title} "));
        string scope = _query.Machine is { } m ? $"  machine: {m} (Esc: all)" : "";
        string text = _tab.FilterOf(_query);
        string filter = text.Length > 0 ? $"  filter: {text}" : "";
        string count = _data is null ? "" : $"  {_tab.Count}";
        string full = tabs + scope + filter + count;
        // A narrow terminal keeps the count (and the scope and filter) by naming only the tab in front: "1 [2 Runs] 3".
        _header.Text = _header.Frame.Width is > 0 and var width && full.Length > width
            ? string.Join(" ", _tabs.Select((tab, i) => tab == _tab ? $"[{i + 1} {tab.Title}]" : $"{i + 1}")) + count + scope + filter
            : full;
    }

    private void ShowTab(TabView tab)
    {
        _tab = tab;
        foreach (TabView each in _tabs)
        {
            each.List.Visible = each == tab;
        }
        ShowEmpty();
        (_tabKey.Key, _tabKey.Title) = tab.ActionHint;
        tab.List.SetFocus();
        if (_filter.Visible)
        {
            CloseFilter(keep: true);
        }
        UpdateHeader();
    }

    protected override bool HandleKey(Key key)
    {
        switch (key)
        {
            case var k when k == new Key('q') || k == Key.C.WithCtrl:
                Host.RequestStop();
                return true;
            case var k when k == new Key('1'):
                ShowTab(_tabs[0]);
                return true;
            case var k when k == new Key('2'):
                ShowTab(_tabs[1]);
                return true;
            case var k when k == new Key('3'):
                ShowTab(_tabs[2]);
                return true;
            case var k when k == Key.Tab:
                ShowTab(_tabs[(Array.IndexOf(_tabs, _tab) + 1) % _tabs.Length]);
                return true;
            case var k when k == new Key('/'):
                OpenFilter();
                return true;
            case var k when k == Key.Esc:
                if (_query.Machine is not null)
                {
                    SetQuery(_query with { Machine = null });
                }
                else if (_tab.FilterOf(_query).Length > 0)
                {
                    SetQuery(_tab.WithFilter(_query, ""));
                }
                return true;
            case var k when k == new Key('l'):
                _tab.Open();
                return true;
            case var k when k == new Key('d'):
                OpenDispatch();
                return true;
            case var k when k == new Key('x'):
                _tab.AskCancel();
                return true;
            case var k when k == new Key('?'):
                HelpWindow.Show(Host, HelpWindow.MainKeys);
                AfterNestedView();
                return true;
            case var k when _tab.HandleKey(k):
                return true;
            case var k when k == new Key('r'):
                Say("select a run to re-run it");
                return true;
            case var k when k == new Key('R'):
                Say("select a batch on the Batches tab (3) to rerun its failures");
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

    private void OpenFilter()
    {
        _filter.Text = _tab.FilterOf(_query);
        _filter.Visible = _filterLabel.Visible = true;
        Message.Visible = false;
        _filter.SetFocus();
    }

    private void CloseFilter(bool keep)
    {
        _filter.Visible = _filterLabel.Visible = false;
        Message.Visible = true;
        if (!keep)
        {
            SetQuery(_tab.WithFilter(_query, ""));
        }
        _tab.List.SetFocus();
    }

    public void SetQuery(ScreenQuery query)
    {
        _query = query;
        UpdateHeader();
        Reload();
    }

    void ITabHost.ShowRunsOf(string machine)
    {
        _query = _query with { Machine = machine, RunText = "" };
        ShowTab(_tabs[1]);
        Reload();
    }

    public void OpenRun(string runId) => OpenRun(runId, null);

    private void OpenRun(string runId, (long Offset, string Mark)? at)
    {
        using RunWindow view = new(Host, _lab, runId, at);
        Host.Run(view);
        view.StopRefreshing();
        AfterNestedView();
    }

    public void SearchLogs()
    {
        using SearchWindow view = new(Host, _lab, _theme, (runId, offset, mark) => OpenRun(runId, (offset, mark)), _query.RunFilter);
        Host.Run(view);
        AfterNestedView();
    }

    void ITabHost.OpenBatch(string batchId)
    {
        using BatchWindow view = new(Host, _lab, _theme, batchId);
        Host.Run(view);
        view.StopRefreshing();
        AfterNestedView();
    }

    /// <summary>A nested view ended: if the app is closing (SIGHUP, SIGTERM) this window goes too, else it catches up.</summary>
    private void AfterNestedView()
    {
        if (_closing.IsCancellationRequested)
        {
            Host.RequestStop();
            return;
        }
        Reload();
    }

    private void OpenDispatch()
    {
        using DispatchDialog dialog = new(Host, _lab, _tab.SelectedMachine);
        Host.Run(dialog);
        AfterNestedView();
        if (dialog.Dispatched is { } run && !_closing.IsCancellationRequested)
        {
            OpenRun(run.Id);
        }
    }

    void ITabHost.Say(string text) => Say(text);

    void ITabHost.Confirm(string question, string declined, Func<Task> yes) => Confirm(question, declined, yes);

    Task ITabHost.Act(string inFlight, Func<Task<string>> action) => Act(inFlight, action, () => Reload());
}
