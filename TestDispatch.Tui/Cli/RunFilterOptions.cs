using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.Cli;

/// <summary>The options that choose runs from history, as <c>runs</c> and <c>grep</c> take them, and the filter they make.</summary>
public sealed class RunFilterOptions
{
    public Option<RunStatus?> Status { get; } = new("--status")
    {
        Description = "Only runs with this status: pending, running, completed, failed, interrupted, timeout",
        CustomParser = result =>
        {
            string word = result.Tokens.Single().Value;
            if (RunStatusExtensions.TryParse(word, out RunStatus parsed))
            {
                return parsed;
            }
            result.AddError($"--status '{word}' is not a status; use one of: pending, running, completed, failed, interrupted, timeout");
            return null;
        },
    };

    public Option<string?> Machine { get; } = new("--machine") { Description = "Only runs on this machine" };

    public Option<string?> Batch { get; } = new("--batch") { Description = "Only runs of this batch (id or unique prefix)" };

    public Option<int?> Limit { get; } = new("--limit") { Description = "At most this many runs (newest first)" };

    public RunFilterOptions(string? limitDescription = null)
    {
        Limit.Description = limitDescription ?? Limit.Description;
        Limit.Validators.Add(result =>
        {
            // Not a number (or too big for one): the parser reports that itself; reading the value here would throw.
            if (int.TryParse(result.Tokens is [var token] ? token.Value : null, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value is < 1)
            {
                result.AddError("--limit must be 1 or more");
            }
        });
    }

    public IEnumerable<Option> All => [Status, Machine, Batch, Limit];

    public RunFilter Filter(ParseResult parse, Lab lab) =>
        new(parse.GetValue(Status), parse.GetValue(Machine), parse.GetValue(Batch) is { } wanted ? lab.FindBatchId(wanted) : null, parse.GetValue(Limit));

    /// <summary>"--since 2d" (that long ago) or "--since 2026-12-01" (a date or time, local unless it says its offset).</summary>
    public static DateTimeOffset? ParseSince(ArgumentResult result)
    {
        string text = result.Tokens.Single().Value;
        if (!text.TrimStart().StartsWith('-') && Duration.TryParse(text, out TimeSpan ago))
        {
            return DateTimeOffset.UtcNow - ago;
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out DateTimeOffset when))
        {
            return when;
        }
        result.AddError($"--since '{text}' is neither a time ago ({Duration.Help}) nor a date or time (2026-12-01, 2026-12-01T08:00)");
        return null;
    }
}
