using System.Text;
using Terminal.Gui.Text;

namespace TestDispatch.Tui.Text;

/// <summary>
/// Text from outside (test dir names, machine names, ssh's messages, a log's bytes) made safe to put on a terminal:
/// a control character never reaches it as itself (a newline would break a row in two, an ESC would steer the terminal),
/// and text is measured in the columns it takes, not in chars. Both faces use it: the CLI's tables and the app's lists
/// and log.
/// </summary>
public static class TerminalText
{
    /// <summary>
    /// The text with every control character written as an escape a shell reads back (<c>\n</c>, <c>\t</c>, <c>\r</c>,
    /// <c>\x1b</c>; C1 controls and the bidirectional overrides as <c>\u202e</c>), and lone surrogates as U+FFFD: one line,
    /// which steers nothing. Text without any, nearly always, is returned as it is.
    /// </summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text) || !NeedsEscape(text))
        {
            return text ?? "";
        }
        StringBuilder escaped = new(text.Length + 8);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                escaped.Append(c).Append(text[++i]);
                continue;
            }
            escaped.Append(c switch
            {
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                < ' ' or '\u007f' => $"\\x{(int)c:x2}",
                _ when IsSteering(c) => $"\\u{(int)c:x4}",
                _ when char.IsSurrogate(c) => "\uFFFD",
                _ => c.ToString(),
            });
        }
        return escaped.ToString();
    }

    private static bool NeedsEscape(string text)
    {
        foreach (char c in text)
        {
            if (c < ' ' || c == '\u007f' || IsSteering(c) || char.IsSurrogate(c))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>C1 controls, and the characters that reorder or hide text around them (bidi overrides and isolates).</summary>
    private static bool IsSteering(char c) => c is (>= '\u0080' and < '\u00a0') or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069');

    /// <summary>The columns <paramref name="text"/> takes on a terminal: wide characters two, combining marks none.</summary>
    public static int Width(string text)
    {
        if (Ascii.IsValid(text))
        {
            return text.Length;
        }
        int width = 0;
        foreach (Rune rune in text.EnumerateRunes())
        {
            width += Math.Max(0, rune.GetColumns());
        }
        return width;
    }

    /// <summary>The text padded with spaces to <paramref name="columns"/> columns (never cut).</summary>
    public static string PadRight(string text, int columns) => Width(text) is var width && width >= columns ? text : text + new string(' ', columns - width);
}
