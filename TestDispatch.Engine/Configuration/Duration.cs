using System.Globalization;

namespace TestDispatch.Engine.Configuration;

/// <summary>Durations as people write them: "hh:mm:ss" or a number with a unit ("500ms", "90s", "5m", "2h", "1d").</summary>
public static class Duration
{
    public const string Help = "write hh:mm:ss (e.g. 00:30:00) or a number with a unit: ms, s, m, h, d (e.g. 90s, 5m, 2h)";

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        text = text.Trim();
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return TimeSpan.TryParseExact(text, ["c", @"hh\:mm\:ss", @"h\:mm\:ss", @"d\.hh\:mm\:ss"], CultureInfo.InvariantCulture, out value);
        }
        (string unit, double scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => ("ms", 0.001),
            _ when text.EndsWith('s') => ("s", 1),
            _ when text.EndsWith('m') => ("m", 60),
            _ when text.EndsWith('h') => ("h", 3600),
            _ when text.EndsWith('d') => ("d", 86400),
            _ => ("", 0),
        };
        if (unit.Length == 0 ||
            !double.TryParse(text[..^unit.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double number) ||
            double.IsNaN(number) || double.IsInfinity(number) || Math.Abs(number * scale) > TimeSpan.MaxValue.TotalSeconds)
        {
            return false;
        }
        value = TimeSpan.FromSeconds(number * scale);
        return true;
    }

    /// <summary>
    /// The longest time limit a run may have: a year. Longer than any test should take, and held honestly by every timer
    /// the agent uses (a CancellationTokenSource stops at ~49.7 days).
    /// </summary>
    public static readonly TimeSpan MaxTimeLimit = TimeSpan.FromDays(365);

    /// <summary>
    /// A run's time limit from <paramref name="text"/>; null, with <paramref name="problem"/> naming
    /// <paramref name="field"/>, the value and the fix, when it is not a positive duration of at most a year.
    /// </summary>
    public static TimeSpan? ParseTimeLimit(string? text, string field, out string? problem)
    {
        problem = null;
        if (!TryParse(text, out TimeSpan value))
        {
            problem = $"{field} '{text}' is not a duration; {Help}";
            return null;
        }
        if (value <= TimeSpan.Zero)
        {
            problem = $"{field} '{text}' must be more than zero; e.g. 00:30:00 or 30m";
            return null;
        }
        if (value > MaxTimeLimit)
        {
            problem = $"{field} '{text}' is longer than the longest time limit, 365d; give at most 365d (or 8760h)";
            return null;
        }
        return value;
    }

    /// <summary>Short human form: "850ms", "42s", "3m05s", "2h04m".</summary>
    public static string Format(TimeSpan span) => span switch
    {
        { TotalSeconds: < 1 } => $"{span.TotalMilliseconds:0}ms",
        { TotalMinutes: < 1 } => $"{span.TotalSeconds:0}s",
        { TotalHours: < 1 } => $"{(int)span.TotalMinutes}m{span.Seconds:00}s",
        { TotalDays: < 1 } => $"{(int)span.TotalHours}h{span.Minutes:00}m",
        _ => $"{(int)span.TotalDays}d{span.Hours:00}h",
    };
}
