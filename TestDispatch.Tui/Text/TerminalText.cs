using System.Globalization;
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

    /// <summary>
    /// A line of a log as the terminal must get it, whatever bytes the test wrote: nothing in it steers the terminal or is
    /// measured one way by the app and another by the terminal (which is what garbled the frame and outlived Ctrl+L).
    /// Tabs become spaces to the next 8-column stop; C0 controls and DEL show as their pictures (ESC as ␛, NUL as ␀); C1
    /// controls, format characters (bidirectional overrides, zero-width ones), line separators, private-use and unassigned
    /// code points and lone surrogates as U+FFFD (as invalid UTF-8 already is); a combining mark with nothing to sit on gets
    /// ◌; a cluster of several characters (an emoji sequence) keeps its first and its combining marks. Wide characters stay:
    /// <see cref="Width"/> counts them two.
    /// </summary>
    public static string ForScreen(string text)
    {
        if (Ascii.IsValid(text) && !text.AsSpan().ContainsAnyInRange('\0', '\u001f') && !text.Contains('\u007f', StringComparison.Ordinal))
        {
            return text;
        }
        StringBuilder shown = new(text.Length);
        int column = 0;
        TextElementEnumerator clusters = StringInfo.GetTextElementEnumerator(text);
        while (clusters.MoveNext())
        {
            string cluster = clusters.GetTextElement();
            if (cluster == "\t")
            {
                int spaces = 8 - (column % 8);
                shown.Append(' ', spaces);
                column += spaces;
                continue;
            }
            int start = shown.Length;
            bool first = true;
            foreach (Rune rune in Runes(cluster))
            {
                UnicodeCategory category = Rune.GetUnicodeCategory(rune);
                bool mark = category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.SpacingCombiningMark;
                if (first)
                {
                    shown.Append(mark ? "\u25CC" + rune : Shown(rune, category));
                    first = false;
                }
                else if (mark)
                {
                    shown.Append(rune.ToString());
                }
            }
            column += Width(shown.ToString(start, shown.Length - start));
        }
        return shown.ToString();
    }

    /// <summary>The runes of a cluster, a lone surrogate as U+FFFD.</summary>
    private static IEnumerable<Rune> Runes(string cluster)
    {
        for (int i = 0; i < cluster.Length;)
        {
            yield return Rune.DecodeFromUtf16(cluster.AsSpan(i), out Rune rune, out int used) == System.Buffers.OperationStatus.Done
                ? rune : Rune.ReplacementChar;
            i += Math.Max(1, used);
        }
    }

    /// <summary>A cluster's first character as shown: itself when it is printable and measured alike everywhere.</summary>
    private static string Shown(Rune rune, UnicodeCategory category) => rune.Value switch
    {
        < 0x20 => ((char)(0x2400 + rune.Value)).ToString(),
        0x7F => "\u2421",
        _ when category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate => "\uFFFD",
        _ when rune.GetColumns() is < 1 or > 2 => "\uFFFD",
        _ => rune.ToString(),
    };

    /// <summary>
    /// A screen line's pieces of at most <paramref name="columns"/> columns each (one piece, cut, unless
    /// <paramref name="wrap"/>), never splitting a character or a cluster: a wide character that does not fit goes to the next.
    /// </summary>
    public static IEnumerable<string> Pieces(string shown, int columns, bool wrap)
    {
        if (columns <= 0)
        {
            yield break;
        }
        if (Ascii.IsValid(shown))
        {
            for (int i = 0; i == 0 || (wrap && i < shown.Length); i += columns)
            {
                yield return shown.Substring(i, Math.Min(columns, shown.Length - i));
            }
            yield break;
        }
        StringBuilder piece = new();
        int used = 0;
        TextElementEnumerator clusters = StringInfo.GetTextElementEnumerator(shown);
        while (clusters.MoveNext())
        {
            string cluster = clusters.GetTextElement();
            int width = Width(cluster);
            if (width > columns)
            {
                continue; // a wide character on a one-column screen: it would spill over the frame
            }
            if (used + width > columns)
            {
                yield return piece.ToString();
                if (!wrap)
                {
                    yield break;
                }
                piece.Clear();
                used = 0;
            }
            piece.Append(cluster);
            used += width;
        }
        yield return piece.ToString();
    }

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
