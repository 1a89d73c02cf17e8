using System.Text;
using Terminal.Gui.Views;

namespace TestDispatch.Tui.App;

/// <summary>A label that shows its text as is: error codes and paths hold '_', which a Label would eat as a hotkey marker.</summary>
public sealed class PlainLabel : Label
{
    public PlainLabel()
    {
        HotKeySpecifier = new Rune(0xFFFF);
    }
}
