using Terminal.Gui.Drawing;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace TestDispatch.Tui.App;

/// <summary>
/// Status colours (docs/DESIGN.md §9) from the 16 ANSI colours, so the user's terminal theme applies; none at
/// all under NO_COLOR or TERM=dumb. The status word is always drawn too: colour is never the only signal.
/// </summary>
public sealed class Theme(bool useColor)
{
    public static Theme FromEnvironment() => new(
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) &&
        Environment.GetEnvironmentVariable("TERM") != "dumb");

    public static ColorName16 ColorOf(RunStatus status) => status switch
    {
        RunStatus.Pending => ColorName16.Gray,
        RunStatus.Running => ColorName16.Cyan,
        RunStatus.Completed => ColorName16.Green,
        RunStatus.Failed => ColorName16.Red,
        RunStatus.Timeout => ColorName16.Magenta,
        RunStatus.Interrupted => ColorName16.Yellow,
        _ => ColorName16.White,
    };

    /// <summary>The run status whose colour a batch status takes: running cyan, completed green, failed red, cancelled yellow.</summary>
    public static RunStatus StatusOf(BatchStatus status) => status switch
    {
        BatchStatus.Running => RunStatus.Running,
        BatchStatus.Completed => RunStatus.Completed,
        BatchStatus.Cancelled => RunStatus.Interrupted,
        _ => RunStatus.Failed,
    };

    /// <summary>The colour of a batch item's state: its run's status; waiting as pending, dropped as interrupted.</summary>
    public static RunStatus? StatusOf(string itemStatus) =>
        itemStatus == BatchProgress.WaitingWord ? RunStatus.Pending
        : itemStatus == BatchProgress.DroppedWord ? RunStatus.Interrupted
        : RunStatusExtensions.TryParse(itemStatus, out RunStatus status) ? status : null;

    /// <summary>A status cell's attribute: the status colour on the row's background, or the row's own without colour.</summary>
    public Attribute StatusAttribute(RunStatus? status, Attribute row) =>
        useColor && status is { } s ? row with { Foreground = new Color(ColorOf(s)) } : row;
}
