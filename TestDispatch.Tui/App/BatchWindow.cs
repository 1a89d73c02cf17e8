using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Errors;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// One batch: its progress on top and its entries below, each with its state and latest run; Enter opens that run.
/// <c>x</c> cancels the batch, <c>R</c> reruns the entries that did not pass. Refreshes itself; Esc or q goes back.
/// </summary>
public sealed class BatchWindow : ScreenWindow
{
    private readonly Lab _lab;
    private readonly string _batchId;
    private readonly PlainLabel _fields = new() { X = 0, Y = 0, Width = Dim.Fill(), Height = 3 };
    private readonly ListGrid _items;
    private bool _loading;
    private bool _paused;

    public BatchWindow(IApplication app, Lab lab, Theme theme, string batchId) : base(app)
    {
        _lab = lab;
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
        Add(_fields, _items, Message, keys);
        HandleKeysOf(_items);
        _items.Accepting += (_, e) =>
        {
            e.Handled = true;
            OpenSelected();
        };
        _items.SetFocus();
        StartRefreshing(TimeSpan.FromSeconds(1), Reload);
    }

    /// <summary>Loads the batch in the background and shows it; one load at a time, none after the view has closed.</summary>
    private void Reload()
    {
        if (_loading || Closed || _paused)
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
            Host.Invoke(() =>
            {
                _loading = false;
                if (Closed)
                {
                    return;
                }
                if (batch is not null)
                {
                    Show(batch);
                }
                if (error is not null)
                {
                    Say(error);
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
            created   {Format.Time(batch.CreatedAt)}   {(batch.ExpectedEnd is { } end ? $"expected end {Format.Time(end)} (an estimate)" : $"ended {Format.Time(batch.EndedAt)}")}
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
            Say($"{item.Name} has no run yet ({item.Status})");
            return;
        }
        using RunWindow view = new(Host, _lab, item.RunId);
        _paused = true; // no batch loads while the run view is in front
        Host.Run(view);
        view.StopRefreshing();
        _paused = false;
        Reload();
    }

    protected override bool HandleKey(Key key)
    {
        switch (key)
        {
            case var k when k == Key.Esc || k == new Key('q') || k == Key.C.WithCtrl:
                Host.RequestStop();
                return true;
            case var k when k == new Key('l'):
                OpenSelected();
                return true;
            case var k when k == new Key('x'):
                Confirm($"Cancel batch {_batchId}: drop its waiting entries and stop its runs? y to confirm, any other key to keep it", "not cancelled",
                    () => Act("cancelling the batch…", async () =>
                    {
                        Batch after = await _lab.CancelBatchAsync(_batchId);
                        return $"batch {after.Id}: {(after.IsTerminal ? after.Status.ToWord() : "cancelling")}";
                    }, Reload));
                return true;
            case var k when k == new Key('R'):
                _ = Act("rerunning the entries that did not pass…", async () =>
                    $"new batch {(await _lab.RerunBatchAsync(_batchId, failedOnly: true)).Id} (Esc, then 3, to see it)", Reload);
                return true;
            case var k when k == new Key('?'):
                HelpWindow.Show(Host, HelpWindow.BatchKeys);
                return true;
            default:
                return false;
        }
    }
}
