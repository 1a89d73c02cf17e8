using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;
using TestDispatch.Engine.Configuration;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// System.CommandLine's own parse errors in our words: each names the option or argument and what it takes, never a .NET
/// type ("Cannot parse argument 'abc' for option '--limit' as expected type 'System.Nullable`1[System.Int32]'" becomes
/// "option '--limit' takes a whole number, e.g. --limit 50; 'abc' is not one"). The build is invariant-globalized, so the
/// parser's messages are always its English ones; a message it does not recognise (our own validators' and parsers',
/// which already name their option) is kept as it is.
/// </summary>
public static partial class ParseErrors
{
    public static string Describe(ParseError error, ParseResult parse)
    {
        string message = error.Message;
        string command = UnknownWords.CommandPath(parse.CommandResult);
        if (CannotParse().Match(message) is { Success: true } bad)
        {
            return bad.Groups["kind"].Value == "option" && FindOption(parse, bad.Groups["name"].Value) is { } option
                ? $"option '{option.Name}' takes {Takes(option)}; '{bad.Groups["value"].Value}' is not one"
                : $"'{bad.Groups["value"].Value}' is not a value '{command}' takes; see 'testdispatch {command} --help'";
        }
        if (RequiredOption().Match(message) is { Success: true } required)
        {
            string name = required.Groups["name"].Value;
            return FindOption(parse, name) is { } option
                ? $"option '{option.Name}' is required for '{command}': give {Takes(option)}"
                : $"option '{name}' is required for '{command}'";
        }
        if (MissingOptionValue().Match(message) is { Success: true } empty)
        {
            string name = empty.Groups["name"].Value;
            return FindOption(parse, name) is { } option ? $"option '{option.Name}' needs a value: {Takes(option)}" : $"option '{name}' needs a value";
        }
        if (MissingArgument().IsMatch(message))
        {
            string[] missing = [.. parse.CommandResult.Command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0 &&
                parse.CommandResult.Children.OfType<ArgumentResult>().FirstOrDefault(r => r.Argument == a) is not { Tokens.Count: > 0 })
                .Select(a => $"{a.Name.ToUpperInvariant()} ({Lower(a.Description)})")];
            return $"'{command}' needs {(missing.Length == 0 ? "an argument" : string.Join(" and ", missing))}: " +
                $"testdispatch {command} {string.Join(' ', parse.CommandResult.Command.Arguments.Select(a => a.Name.ToUpperInvariant()))}";
        }
        if (TooMany().Match(message) is { Success: true } many)
        {
            return $"option '{many.Groups["name"].Value}' takes one value, and was given {many.Groups["count"].Value}; give it once";
        }
        if (Unrecognized().Match(message) is { Success: true } word)
        {
            string[] subcommands = [.. parse.CommandResult.Command.Subcommands.Select(c => c.Name)];
            return subcommands.Length == 0
                ? $"unexpected word '{word.Groups["word"].Value}' for '{command}'; see 'testdispatch {command} --help'"
                : $"unknown command '{word.Groups["word"].Value}' for '{command}'" +
                  (UnknownWords.Closest(word.Groups["word"].Value, subcommands) is { } near ? $"; did you mean '{near}'?" : $"; the commands are {string.Join(", ", subcommands)}");
        }
        if (NoCommand().IsMatch(message))
        {
            return $"'{command}' needs a command: {string.Join(", ", parse.CommandResult.Command.Subcommands.Select(c => c.Name))}";
        }
        return message;
    }

    /// <summary>What an option's value is, for people: "a whole number, e.g. --limit 50"; a text value by its description.</summary>
    private static string Takes(Option option)
    {
        Type type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        return type == typeof(int) || type == typeof(long) ? $"a whole number, e.g. {option.Name} 50"
            : type == typeof(TimeSpan) ? $"a duration, e.g. {option.Name} 90d ({Duration.Help})"
            : type == typeof(bool) ? "true or false"
            : option.Description is { Length: > 0 } description ? $"a value ({Lower(description)})"
            : "a value";
    }

    private static string Lower(string? text) => string.IsNullOrEmpty(text) ? "" : char.ToLowerInvariant(text[0]) + text[1..];

    /// <summary>The option of this command or its parents named <paramref name="name"/> (by name or alias).</summary>
    private static Option? FindOption(ParseResult parse, string name)
    {
        for (SymbolResult? level = parse.CommandResult; level is not null; level = level.Parent)
        {
            if (level is CommandResult command &&
                command.Command.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name)) is { } option)
            {
                return option;
            }
        }
        return null;
    }

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for (?<kind>option|command) '(?<name>[^']*)' as expected type")]
    private static partial Regex CannotParse();

    [GeneratedRegex(@"^Option '(?<name>[^']+)' is required\.")]
    private static partial Regex RequiredOption();

    [GeneratedRegex(@"^Required argument missing for option: '(?<name>[^']+)'\.")]
    private static partial Regex MissingOptionValue();

    [GeneratedRegex(@"^Required argument missing for command: '")]
    private static partial Regex MissingArgument();

    [GeneratedRegex(@"^Option '(?<name>[^']+)' expects a single argument but (?<count>\d+) were provided\.")]
    private static partial Regex TooMany();

    [GeneratedRegex(@"^Unrecognized command or argument '(?<word>.*)'\.$")]
    private static partial Regex Unrecognized();

    [GeneratedRegex(@"^Required command was not provided\.")]
    private static partial Regex NoCommand();
}
