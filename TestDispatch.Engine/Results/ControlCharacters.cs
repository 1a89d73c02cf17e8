using System.Buffers;

namespace TestDispatch.Engine.Results;

/// <summary>
/// Control characters as their visible pictures (ESC as ␛, NUL as ␀). XML 1.0 forbids raw C0 controls, yet test
/// output carries them (colour codes, stray NULs); replacing them keeps a report readable and keeps its text
/// from steering the terminal it is later printed on. Tab, LF and CR stay.
/// </summary>
internal static class ControlCharacters
{
    private static readonly SearchValues<char> Replaced = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Where(c => c is not ('\t' or '\n' or '\r')).Select(c => (char)c),
         .. Enumerable.Range(0x7F, 0x21).Select(c => (char)c), '\uFFFE', '\uFFFF']);

    /// <summary>Replaces, in place, each C0 control (but tab, LF, CR), DEL, C1 control and non-character U+FFFE/U+FFFF.</summary>
    public static void Replace(Span<char> text)
    {
        int at;
        while ((at = text.IndexOfAny(Replaced)) >= 0)
        {
            text[at] = Picture(text[at]);
            text = text[(at + 1)..];
        }
    }

    /// <summary>The text with its control characters replaced, and its lone surrogates too (<see cref="RepairSurrogates"/>).</summary>
    public static string Replace(string text)
    {
        if (!text.AsSpan().ContainsAny(Replaced))
        {
            return RepairSurrogates(text);
        }
        char[] copy = text.ToCharArray();
        Replace(copy);
        return RepairSurrogates(new string(copy));
    }

    /// <summary>
    /// Lone surrogates as U+FFFD. A character reference such as <c>&amp;#xD800;</c> gets one past the reader; it is
    /// no character, and JSON writers and terminals each make something else of it. Only for whole strings: a
    /// chunk of text may end between the two halves of a pair.
    /// </summary>
    public static string RepairSurrogates(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            return text;
        }
        char[] copy = text.ToCharArray();
        for (int i = 0; i < copy.Length; i++)
        {
            if (char.IsHighSurrogate(copy[i]) && i + 1 < copy.Length && char.IsLowSurrogate(copy[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(copy[i]))
            {
                copy[i] = '\uFFFD';
            }
        }
        return new string(copy);
    }

    private static char Picture(char c) => c switch
    {
        < '\u0020' => (char)(0x2400 + c),
        '\u007F' => '\u2421',
        _ => '\uFFFD',
    };
}
