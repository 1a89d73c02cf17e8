using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>
/// A <see cref="TableView"/> that skips the framework's clear before it draws. Terminal.Gui 2.5's TableView paints
/// every line of its viewport itself (each row's line is blanked, then written), so the clear only doubled the work:
/// it was three quarters of a redraw (headless 120x40: 12.5 ms → 3 ms), and a refresh redraws the table every second
/// while a running run's duration is on screen.
/// </summary>
public sealed class ListTableView : TableView
{
    protected override bool OnClearingViewport() => true;

    protected override bool OnDrawingContent(DrawContext? context)
    {
        // The header's underline is drawn only as wide as the columns, over whatever was there: blank the header first.
        string blank = new(' ', Viewport.Width);
        SetAttributeForRole(VisualRole.Normal);
        for (int line = 0; line < CurrentHeaderHeightVisible(); line++)
        {
            Move(0, line);
            AddStr(blank);
        }
        return base.OnDrawingContent(context);
    }

    /// <summary>The vi keys every list takes, as in k9s and lazygit: j/k down/up, g/G first/last. False for any other key.</summary>
    public bool MoveByViKey(Key key)
    {
        switch (key)
        {
            case var k when k == new Key('j'):
                MoveCursorByOffset(0, 1, false, null);
                return true;
            case var k when k == new Key('k'):
                MoveCursorByOffset(0, -1, false, null);
                return true;
            case var k when k == new Key('g'):
                MoveCursorToStartOfTable(false, null);
                return true;
            case var k when k == new Key('G'):
                MoveCursorToEndOfTable(false, null);
                return true;
            default:
                return false;
        }
    }
}
