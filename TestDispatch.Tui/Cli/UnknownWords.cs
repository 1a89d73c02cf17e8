using System.CommandLine;
using System.CommandLine.Parsing;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// Words on a command line that are not the command's, which System.CommandLine lets an argument swallow: an unknown
/// option given where an argument goes (<c>logs --json ID</c> makes "--json" the id), and, for an argument that takes
/// many words (run's test command), any word before <c>--</c>: <c>run DIR -m m1 --queue</c> would run "--queue" as the
/// test. Words for the test come only after <c>--</c> (or from --command). Each is refused, an unknown option with the
/// closest real one, before anything is stored.
/// </summary>
public static class UnknownWords
{
    public static IReadOnlyList<(string Word, string Message)> Find(ParseResult parse)
    {
        List<Token> tokens = [.. parse.Tokens];
        int doubleDash = tokens.FindIndex(t => t.Type == TokenType.DoubleDash);
        int end = doubleDash < 0 ? tokens.Count : doubleDash;
        string command = CommandPath(parse.CommandResult);
        List<(string, string)> options = [];
        List<(string, string)> words = [];
        foreach (string word in parse.UnmatchedTokens.Where(LooksLikeOption).Distinct())
        {
            options.Add((word, Unknown(parse, command, word)));
        }
        foreach (ArgumentResult argument in parse.CommandResult.Children.OfType<ArgumentResult>())
        {
            foreach (Token token in argument.Tokens.Where(t => tokens.FindIndex(u => ReferenceEquals(u, t)) is var i && i >= 0 && i < end))
            {
                if (LooksLikeOption(token.Value))
                {
                    options.Add((token.Value, Unknown(parse, command, token.Value)));
                }
                else if (argument.Argument.Arity.MaximumNumberOfValues > 1)
                {
                    words.Add((token.Value, $"unexpected word '{token.Value}' for '{command}': words for the test go after '--', " +
                        $"as in 'testdispatch {command} DIR --machine M -- ./run.sh {token.Value}'"));
                }
            }
        }
        // An unknown option taken for an argument shifts the words after it: name the option alone, it is the cause.
        return options.Count > 0 ? options : words;
    }

    private static bool LooksLikeOption(string word) => word.Length > 1 && word[0] == '-';

    private static string Unknown(ParseResult parse, string command, string word) =>
        Closest(word, OptionNames(parse.CommandResult)) is { } near
            ? $"unknown option '{word}' for '{command}'; did you mean '{near}'?"
            : $"unknown option '{word}' for '{command}'";

    /// <summary>The options the command takes: its own, and those of its parents that apply to it (--state-dir, --help…).</summary>
    private static IEnumerable<string> OptionNames(CommandResult current)
    {
        for (SymbolResult? result = current; result is not null; result = result.Parent)
        {
            if (result is CommandResult level)
            {
                foreach (Option option in level.Command.Options.Where(o => level == current || o.Recursive))
                {
                    yield return option.Name;
                    foreach (string alias in option.Aliases)
                    {
                        yield return alias;
                    }
                }
            }
        }
    }

    /// <summary>The nearest name by edit distance (a swap of two letters counts one), if near enough to be a typo, or one it starts.</summary>
    public static string? Closest(string word, IEnumerable<string> names)
    {
        (string Name, int Distance)[] ranked = [.. names.Distinct().Select(n => (n, Distance(word, n))).OrderBy(r => r.Item2).ThenBy(r => r.n.Length)];
        if (ranked.Length > 0 && ranked[0].Distance <= Math.Max(1, Math.Min(2, word.TrimStart('-').Length / 3)))
        {
            return ranked[0].Name;
        }
        return word.TrimStart('-').Length >= 3 ? ranked.Select(r => r.Name).FirstOrDefault(n => n.StartsWith(word, StringComparison.Ordinal)) : null;
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.</summary>
    private static int Distance(string a, string b)
    {
        int[,] d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }

    internal static string CommandPath(CommandResult result)
    {
        List<string> names = [];
        for (SymbolResult? level = result; level is CommandResult { Parent: not null } command; level = level.Parent)
        {
            names.Insert(0, command.Command.Name);
        }
        return names.Count == 0 ? "testdispatch" : string.Join(' ', names);
    }
}
