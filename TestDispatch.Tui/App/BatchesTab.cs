using Terminal.Gui.Input;
using TestDispatch.Engine.Batches;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>The Batches tab: the newest batches with their progress; Enter shows a batch's entries, R reruns what did not pass.</summary>
public sealed class BatchesTab : TabView
{
    private IReadOnlyList<Batch> _batches = [];

    public BatchesTab(ITabHost host, Theme theme) : base(host, theme)
    {
        List.Source = new BatchesTable([], DateTimeOffset.UtcNow);
        List.Accepting += (_, e) =>
        {
            e.Handled = true;
            Open();
        };
    }

    public override string Title => "Batches";

    public override (Key Key, string Title) ActionHint => (new Key('R'), "rerun failed");

    public override string Count => Plural(_batches.Count, "batch");

    public override void Show(ScreenData data)
    {
        // Running batches' ages move on, so they are drawn again even when nothing of them changed.
        if (data.Batches is not null || _batches.Any(b => !b.IsTerminal))
        {
            _batches = data.Batches ?? _batches;
            List.Source = new BatchesTable(_batches, DateTimeOffset.UtcNow);
        }
    }

    public override string? WhenEmpty(ScreenQuery query) => _batches.Count == 0 && query.BatchText.Length == 0
        ? "No batches yet. Submit a plan of tests across machines with\n" +
          $"'{Invocation.Command} batch submit PLAN.json' (see examples/plans/){NotOnPath}."
        : null;

    public override string FilterOf(ScreenQuery query) => query.BatchText;

    public override ScreenQuery WithFilter(ScreenQuery query, string text) => query with { BatchText = text };

    public override void Open()
    {
        if (Selected() is { } batch)
        {
            Host.OpenBatch(batch.Id);
        }
    }

    public override void AskCancel()
    {
        if (Selected() is not { } batch || batch.IsTerminal)
        {
            Host.Say(Selected() is { } ended ? $"batch {ended.Id} has already ended ({ended.Status.ToWord()})" : "nothing to cancel here");
            return;
        }
        Host.Confirm($"Cancel batch {batch.Name} ({batch.Id}, {Format.Progress(batch)} done)? y to confirm, any other key to keep it", "not cancelled", () =>
            Host.Act($"cancelling batch {batch.Id}…", async () =>
            {
                Batch after = await Lab.CancelBatchAsync(batch.Id);
                return $"batch {after.Id}: {(after.IsTerminal ? after.Status.ToWord() : "cancelling")}";
            }));
    }

    public override bool HandleKey(Key key)
    {
        if (key != new Key('R'))
        {
            return false;
        }
        if (Selected() is not { } batch)
        {
            Host.Say("select a batch on the Batches tab (3) to rerun its failures");
            return true;
        }
        _ = Host.Act($"rerunning what did not pass in {batch.Id}…", async () =>
            $"new batch {(await Lab.RerunBatchAsync(batch.Id, failedOnly: true)).Id}");
        return true;
    }

    private Batch? Selected() =>
        List.Source is BatchesTable b && List.SelectedRow >= 0 ? b.Batches[List.SelectedRow] : null;
}
