using System.Text.RegularExpressions;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// grep over one log file: a pattern compiled once, then <see cref="Search"/> per file (the caller walks the runs).
/// Bytes are searched, not chars: a fixed string, or a regex's required literal, is found with vectorized byte
/// search and only lines around hits are decoded. Memory is a fixed buffer per search whatever the log's size or
/// line lengths. Like GNU grep, a log holding a NUL byte turns binary from the buffer where the NUL appears: the
/// search then stops at its next match and reports one <see cref="LogHitKind.BinaryFile"/> hit.
/// </summary>
public sealed class LogSearch
{
    internal const int DefaultBlockSize = 256 * 1024;

    /// <summary>How long one backtracking regex call may take (only patterns the linear engine cannot run backtrack).</summary>
    private static readonly TimeSpan BacktrackingTimeout = TimeSpan.FromSeconds(2);

    private readonly LineMatcher _matcher;
    private readonly int _blockSize;

    /// <exception cref="LogPatternException">The pattern is not a valid regular expression, or holds a newline.</exception>
    public LogSearch(string pattern, LogSearchOptions? options = null)
        : this(pattern, options ?? new LogSearchOptions(), nonBacktracking: true, prefilter: true, DefaultBlockSize)
    {
    }

    /// <summary>The knobs the benchmark compares: regex engine, literal prefilter, buffer size.</summary>
    internal LogSearch(string pattern, LogSearchOptions options, bool nonBacktracking, bool prefilter, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxLineBytes, 16, nameof(options));
        if (pattern.Contains('\n', StringComparison.Ordinal))
        {
            throw new LogPatternException(pattern, "a search pattern cannot hold a newline: each line is searched on its own");
        }
        Pattern = pattern;
        Options = options;
        _matcher = Matcher(pattern, options, nonBacktracking, prefilter);
        _blockSize = Math.Max(blockSize, 4 * _matcher.Overlap);
    }

    public string Pattern { get; }

    public LogSearchOptions Options { get; }

    /// <summary>
    /// The hits in the log at <paramref name="path"/>, in file order, read as they are consumed (the file is opened
    /// on the first <c>MoveNext</c> and closed when the enumeration ends). The cancellation token is checked
    /// between buffers.
    /// </summary>
    /// <exception cref="LogGoneException">The log is missing, or was truncated under the search.</exception>
    /// <exception cref="LogPatternException">A backtracking pattern ran too long on this log.</exception>
    public IEnumerable<LogHit> Search(string path, CancellationToken cancellationToken = default)
    {
        if (Options.MaxHits is <= 0)
        {
            yield break;
        }
        using LogScan scan = new(path, _matcher, Options, _blockSize);
        List<LogHit> batch = [];
        bool more = true;
        while (more)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                more = scan.Next(batch);
            }
            catch (RegexMatchTimeoutException e)
            {
                throw new LogPatternException(Pattern,
                    $"the pattern '{Pattern}' backtracked for more than {BacktrackingTimeout.TotalSeconds:0}s on a line of '{path}': "
                    + "write it without backreferences or lookarounds, so that the linear engine can run it", e);
            }
            foreach (LogHit hit in batch)
            {
                yield return hit;
            }
            batch.Clear();
        }
    }

    private static LineMatcher Matcher(string pattern, LogSearchOptions options, bool nonBacktracking, bool prefilter)
    {
        bool plain = options.FixedString || RequiredLiteral.IsPlain(pattern);
        if (plain && ByteFinder.For(pattern, options.IgnoreCase) is { } finder)
        {
            return new LiteralLineMatcher(finder);
        }
        string regexPattern = plain ? Regex.Escape(pattern) : pattern;
        Regex regex = Compile(pattern, regexPattern, options.IgnoreCase, nonBacktracking);
        return new RegexLineMatcher(regex, prefilter ? Prefilter(regexPattern, options.IgnoreCase) : null);
    }

    /// <summary>
    /// Byte finders for the literals one of which every match holds, or null: when there are none, too many to be
    /// worth searching one by one, or one cannot be searched as bytes (non-ASCII under -i leaves its alternative unfiltered).
    /// </summary>
    private static List<ByteFinder>? Prefilter(string pattern, bool ignoreCase)
    {
        if (RequiredLiteral.AnyOf(pattern) is not { Count: <= 8 } texts)
        {
            return null;
        }
        List<ByteFinder> finders = [];
        foreach (string text in texts)
        {
            if (ByteFinder.For(text, ignoreCase) is not { } finder)
            {
                return null;
            }
            finders.Add(finder);
        }
        return finders;
    }

    private static Regex Compile(string pattern, string regexPattern, bool ignoreCase, bool nonBacktracking)
    {
        RegexOptions options = RegexOptions.Multiline | RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : 0);
        try
        {
            try
            {
                // Linear in the input whatever the pattern: a hostile or careless pattern cannot hang a walk of history.
                return nonBacktracking ? new Regex(regexPattern, options | RegexOptions.NonBacktracking) : Backtracking();
            }
            catch (NotSupportedException)
            {
                return Backtracking(); // backreferences, lookarounds, atomic groups: only the backtracking engine has them
            }
        }
        catch (RegexParseException e)
        {
            throw new LogPatternException(pattern, $"invalid regular expression '{pattern}': {Reason(e)}", e);
        }

        Regex Backtracking() => new(regexPattern, options | RegexOptions.Compiled, BacktrackingTimeout);
    }

    /// <summary>The parser's reason without its own quoting of the pattern ("Invalid pattern '…' at offset 3. Not enough )'s.").</summary>
    private static string Reason(RegexParseException e)
    {
        string marker = $" at offset {e.Offset}. ";
        int at = e.Message.LastIndexOf(marker, StringComparison.Ordinal);
        string reason = at >= 0 ? e.Message[(at + marker.Length)..].TrimEnd('.') : e.Error.ToString();
        return $"{reason} (at offset {e.Offset})";
    }
}
