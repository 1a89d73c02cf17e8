using System.Buffers;
using System.Text;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// The longest run of literal characters that every match of a regex must contain (or, for top-level alternatives,
/// one such literal per alternative), found by a deliberately conservative reading of the pattern: anything it does
/// not fully understand (inline options, escapes other than escaped punctuation) yields no literal, which only costs
/// speed, never a match.
/// </summary>
internal static class RequiredLiteral
{
    private const string Special = @"\^$.|?*+()[]{}";

    /// <summary>Whether <paramref name="pattern"/> has no regex syntax at all: it then matches exactly itself.</summary>
    public static bool IsPlain(string pattern) => pattern.AsSpan().IndexOfAny(SpecialChars) < 0;

    private static readonly SearchValues<char> SpecialChars = SearchValues.Create(Special);

    /// <summary>
    /// For each top-level alternative of <paramref name="pattern"/>, a literal its matches contain: a line can only
    /// match if it holds one of them. Null when some alternative has none of at least <paramref name="minLength"/> chars.
    /// </summary>
    public static IReadOnlyList<string>? AnyOf(string pattern, int minLength = 3)
    {
        List<string> literals = [];
        foreach (string alternative in Alternatives(pattern))
        {
            if (Of(alternative, minLength) is not { } literal)
            {
                return null;
            }
            literals.Add(literal);
        }
        return literals;
    }

    /// <summary>The literal, or null when none of at least <paramref name="minLength"/> characters can be proved.</summary>
    public static string? Of(string pattern, int minLength = 3)
    {
        if (pattern.Contains("(?", StringComparison.Ordinal))
        {
            return null; // inline options (one could turn on case folding or comments), lookarounds: not worth reading
        }
        StringBuilder run = new();
        string best = "";
        int i = 0;
        while (i < pattern.Length)
        {
            char c = pattern[i];
            int itemStart = run.Length;
            bool literal;
            switch (c)
            {
                case '|':
                    return null; // a top-level alternative need not contain what the others do
                case '\\' when i + 1 < pattern.Length && IsEscapedPunctuation(pattern[i + 1]):
                    run.Append(pattern[i + 1]);
                    i += 2;
                    literal = true;
                    break;
                case '\\':
                    i += 2; // \d, \b, \x41, \1 ...: not a literal we read
                    literal = false;
                    break;
                case '[':
                    i = SkipClass(pattern, i);
                    literal = false;
                    break;
                case '(':
                    i = SkipGroup(pattern, i);
                    literal = false;
                    break;
                case '.' or '^' or '$' or ')' or ']' or '}':
                    i++;
                    literal = false;
                    break;
                case '{' or '*' or '+' or '?':
                    return null; // a quantifier with nothing before it (the regex parser decides), or malformed
                default:
                    run.Append(c);
                    i++;
                    literal = true;
                    break;
            }
            if (i > pattern.Length)
            {
                return null;
            }
            // A quantifier applies to the item just read: optional (*, ?, {0,...}) takes it out of the run;
            // repeated (+, {n,...}) keeps it but ends the run, since what follows need not be adjacent.
            int quantifierEnd = SkipQuantifier(pattern, i, out bool optional);
            if (quantifierEnd > i)
            {
                i = quantifierEnd;
                if (literal && optional)
                {
                    run.Length = itemStart;
                }
                best = Longer(best, run);
                run.Clear();
            }
            else if (!literal)
            {
                best = Longer(best, run);
                run.Clear();
            }
        }
        best = Longer(best, run);
        return best.Length >= minLength ? best : null;
    }

    private static string Longer(string best, StringBuilder run) =>
        Encoding.UTF8.GetByteCount(run.ToString()) > Encoding.UTF8.GetByteCount(best) ? run.ToString() : best;

    private static bool IsEscapedPunctuation(char c) => Special.Contains(c) || c is '/' or '-' or ':' or '"' or '\'' or '=' or ',' or '@' or '%' or '&' or '!' or '<' or '>' or '~' or '`' or ';' or '_';

    /// <summary>The index after the quantifier at <paramref name="i"/> (and its lazy '?'), or <paramref name="i"/> when there is none.</summary>
    private static int SkipQuantifier(string pattern, int i, out bool optional)
    {
        optional = false;
        if (i >= pattern.Length)
        {
            return i;
        }
        int end;
        switch (pattern[i])
        {
            case '*' or '?':
                optional = true;
                end = i + 1;
                break;
            case '+':
                end = i + 1;
                break;
            case '{':
                int close = pattern.IndexOf('}', i);
                if (close < 0)
                {
                    return i; // a literal '{' to .NET
                }
                string[] bounds = pattern[(i + 1)..close].Split(',');
                if (bounds.Length is < 1 or > 2 || !int.TryParse(bounds[0], out int min))
                {
                    return i;
                }
                optional = min == 0;
                end = close + 1;
                break;
            default:
                return i;
        }
        return end < pattern.Length && pattern[end] == '?' ? end + 1 : end;
    }

    /// <summary>The pattern cut at its top-level '|' (those outside groups, classes and escapes).</summary>
    private static List<string> Alternatives(string pattern)
    {
        List<string> alternatives = [];
        int depth = 0, from = 0;
        for (int i = 0; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '\\':
                    i++;
                    break;
                case '[':
                    i = SkipClass(pattern, i) - 1;
                    break;
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case '|' when depth == 0:
                    alternatives.Add(pattern[from..i]);
                    from = i + 1;
                    break;
            }
        }
        alternatives.Add(pattern[Math.Min(from, pattern.Length)..]);
        return alternatives;
    }

    private static int SkipClass(string pattern, int i)
    {
        int j = i + 1;
        if (j < pattern.Length && pattern[j] == '^')
        {
            j++;
        }
        if (j < pattern.Length && pattern[j] == ']')
        {
            j++; // a ']' first in a class is a member
        }
        for (; j < pattern.Length; j++)
        {
            if (pattern[j] == '\\')
            {
                j++;
            }
            else if (pattern[j] == ']')
            {
                return j + 1;
            }
        }
        return pattern.Length + 1;
    }

    private static int SkipGroup(string pattern, int i)
    {
        int depth = 0;
        for (int j = i; j < pattern.Length; j++)
        {
            switch (pattern[j])
            {
                case '\\':
                    j++;
                    break;
                case '[':
                    j = SkipClass(pattern, j) - 1;
                    break;
                case '(':
                    depth++;
                    break;
                case ')' when --depth == 0:
                    return j + 1;
            }
        }
        return pattern.Length + 1;
    }
}
