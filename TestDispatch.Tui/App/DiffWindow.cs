using Terminal.Gui.App;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using TestDispatch.Engine;
using TestDispatch.Engine.Logs;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.App;

/// <summary>
/// 'D' in the run view: the run's log against the last pass of its test (<see cref="Lab.DiffLogs"/>), as a unified diff
/// in a scrollable list, removed lines red and added green (the '-' and '+' say it without colour). The comparison runs
/// off the UI thread; what stops it (no earlier pass, logs too different) is said on the message line. Esc or q goes back.
/// </summary>
public sealed class DiffWindow : ScreenWindow
{
    private readonly ListGrid _lines;
    private readonly CancellationTokenSource _stop = new();

    public DiffWindow(IApplication app, Lab lab, string runId, Theme theme) : base(app)
    {
        Title = $"Run {runId} against the last pass";
        _lines = new ListGrid(theme) { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill(2) };
        StatusBar keys = new([new Shortcut(new Key('j'), "down", null), new Shortcut(new Key('k'), "up", null), new Shortcut(Key.Esc, "back", null)]);
        Add(_lines, Message, keys);
        HandleKeysOf(_lines);
        _lines.SetFocus();
        CancellationToken stop = _stop.Token;
        _ = Act("comparing with the last pass…", () => Task.Run(() =>
        {
            RunDiff diff = lab.DiffLogs(runId, cancellationToken: stop);
            Host.Invoke(() => Show(diff));
            return Describe(diff);
        }, stop));
    }

    private void Show(RunDiff diff)
    {
        if (Closed)
        {
            return;
        }
        Title = $"Run {diff.Run.Id} against run {diff.Base.Id}";
        string text = UnifiedDiff.Render(diff.Diff, Format.DiffLabel(diff.Base), Format.DiffLabel(diff.Run));
        _lines.Source = new DiffLines(text.Length == 0 ? [] : text.TrimEnd('\n').Split('\n'));
    }

    private static string Describe(RunDiff diff) => diff.Diff.Outcome switch
    {
        LogDiffOutcome.Equal => $"nothing but volatile tokens (times, pids, temp paths…) differs from run {diff.Base.Id} on {diff.Base.Machine}",
        LogDiffOutcome.Different => $"-{diff.Diff.Removed} +{diff.Diff.Added} lines against run {diff.Base.Id} on {diff.Base.Machine}, " +
            $"ended {Format.Time(diff.Base.EndedAt)}",
        _ => $"logs_too_different: {diff.Diff.Reason}",
    };

    protected override bool HandleKey(Key key)
    {
        if (key == Key.Esc || key == new Key('q') || key == Key.C.WithCtrl)
        {
            Host.RequestStop();
            return true;
        }
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop.Cancel();
            _stop.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>The diff's lines, one a row, made safe for the terminal; '-' lines take the failed colour, '+' the passed one.</summary>
    private sealed class DiffLines(string[] lines) : GridSource
    {
        private static readonly GridColumn[] Layout = [new("DIFF", 10, int.MaxValue)];

        public override IReadOnlyList<GridColumn> Columns => Layout;

        public override int Rows => lines.Length;

        public override string Cell(int row, int column) => TerminalText.ForScreen(lines[row]);

        public override string Key(int row) => row.ToString(System.Globalization.CultureInfo.InvariantCulture);

        public override int RowOf(string key) => int.TryParse(key, out int row) && row < lines.Length ? row : -1;

        public override int StatusColumn => 0;

        public override RunStatus? Status(int row) => lines[row] switch
        {
            ['-', '-', '-', ' ', ..] or ['+', '+', '+', ' ', ..] => null,
            ['-', ..] => RunStatus.Failed,
            ['+', ..] => RunStatus.Completed,
            _ => null,
        };
    }
}
