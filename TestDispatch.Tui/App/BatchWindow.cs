using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Tui.Cli;
using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>
/// One batch: its progress on top and its entries below, each with its state and latest run; Enter opens that run.
/// <c>x</c> cancels the batch, <c>R</c> reruns the entries that did not pass. Refreshes itself; Esc or q goes back.
/// </summary>
public sealed class BatchWindow : Window
{
    private readonly IApplication _app;
    private readonly Lab _lab;
    private readonly Theme _theme;
    private readonly string _batchId;
    private readonly PlainLabel _fields = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 3 };
    private readonly ListGrid _items;
    private readonly PlainLabel _message = new() { X = 0, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Height = 1 };
    private object? _timer;
    private bool _confirmCancel;
    private bool _loading;
    private bool _paused;
    private bool _closed;

    public BatchWindow(IApplication app, Lab lab, Theme theme, string batchId)
    {
        _app = app;
        _lab = lab;
        _theme = theme;
        _batchId = batchId;
        Title = $"Batch {batchId}";
        _items = new ListGrid(theme) { X = 0, Y = 3, Width = Dim.Fill(), Height = Dim.Fill(2), Source = new BatchItemsTable([]) };
        StatusBar keys = new([
            new Shortcut(Key.Enter, "open run", null),
            new Shortcut(new Key('x'), "cancel batch", null),
            new Shortcut(new Key('R'), "rerun failed", null),
            new Shortcut(new Key('?'), "help", null),
            new Shortcut(Key.Esc, "back", null),
        ]);
        Add(_fields, _items, _message, keys);
        _items.KeyDown += (_, key) => key.Handled = key.Handled || HandleKey(key);
        KeyDown += (_, key) => key.Handled = key.Handled || HandleKey(key);
        _items.Accepting += (_, e) =>
        {
            e.Handled = true;
            OpenSelected();
        };
        _items.SetFocus();
        Reload();
        _timer = app.AddTimeout(TimeSpan.FromSeconds(1), () =>
        {
            Reload();
            return true;
        });
    }

    public void StopRefreshing()
    {
        _closed = true;
        if (_timer is not null)
        {
            _app.RemoveTimeout(_timer);
            _timer = null;
        }
    }

    /// <summary>Loads the batch in the background and shows it; one load at a time, none after the view has closed.</summary>
    private void Reload()
    {
        if (_loading || _closed || _paused)
        {
            return;
        }
        _loading = true;
        _ = Task.Run(() =>
        {
            Batch? batch = null;
            string? error = null;
            try
            {
                batch = _lab.ShowBatch(_batchId);
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
                if (_closed)
                {
                    return;
                }
                if (batch is not null)
                {
                    Show(batch);
                }
                if (error is not null)
                {
                    _message.Text = error.ReplaceLineEndings(" ");
                }
            });
        });
    }

    private void Show(Batch batch)
    {
        Title = $"Batch {batch.Name} ({batch.Id})";
        BatchCounts c = batch.Counts;
        _fields.Text = $"""
            {batch.Status.ToWord().ToUpperInvariant()}  {Format.Progress(batch)} {Format.Bar(batch, 20)}  {c.Completed} passed, {c.Done - c.Completed} not, {c.Pending + c.Running} running, {c.Waiting} waiting
            plan      {batch.Plan}{(batch.RerunOf is { } of ? $"   (rerun of {of})" : "")}
            created   {Format.Time(batch.CreatedAt)}   ended {Format.Time(batch.EndedAt)}
            """;
        _items.Source = new BatchItemsTable(batch.Items ?? []);
    }

    private BatchItem? SelectedItem() =>
        _items.Source is BatchItemsTable t && _items.SelectedRow >= 0 ? t.Items[_items.SelectedRow] : null;

    private void OpenSelected()
    {
        if (SelectedItem() is not { } item)
        {
            return;
        }
        if (item.RunId is null)
        {
            _message.Text = $"{item.Name} has no run yet ({item.Status})";
            return;
        }
        using RunWindow view = new(_app, _lab, _theme, item.RunId);
        _paused = true; // no batch loads while the run view is in front
        _app.Run(view);
        view.StopRefreshing();
        _paused = false;
        Reload();
    }

    private bool HandleKey(Key key)
    {
        if (_confirmCancel)
        {
            _confirmCancel = false;
            if (key == new Key('y') || key == new Key('Y'))
            {
                Act("cancelling the batch…", async () =>
                {
                    Batch after = await _lab.CancelBatchAsync(_batchId);
                    return $"batch {after.Id}: {(after.IsTerminal ? after.Status.ToWord() : "cancelling")}";
                });
            }
            else
            {
                _message.Text = "not cancelled";
            }
            return true;
        }
        switch (key)
        {
            case var k when k == Key.Esc || k == new Key('q') || k == Key.C.WithCtrl:
                _app.RequestStop();
                return true;
            case var k when k == new Key('l'):
                OpenSelected();
                return true;
            case var k when k == new Key('x'):
                _confirmCancel = true;
                _message.Text = $"Cancel batch {_batchId}: drop its waiting entries and stop its runs? y to confirm, any other key to keep it";
                return true;
            case var k when k == new Key('R'):
                Act("rerunning the entries that did not pass…", async () =>
                    $"new batch {(await _lab.RerunBatchAsync(_batchId, failedOnly: true)).Id} (Esc, then 3, to see it)");
                return true;
            case var k when k == new Key('?'):
                HelpWindow.Show(_app, HelpWindow.BatchKeys);
                return true;
            default:
                return false;
        }
    }

    private void Act(string inFlight, Func<Task<string>> action)
    {
        _message.Text = inFlight;
        _ = EngineAction.Run(_app, action, result =>
        {
            if (!_closed)
            {
                _message.Text = result;
                Reload();
            }
        });
    }
}
