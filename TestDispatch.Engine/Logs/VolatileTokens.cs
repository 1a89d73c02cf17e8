using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// What changes between any two runs of the same test, folded into placeholders before logs are compared: times and
/// dates, durations, UUIDs and hex ids, run ids, pids, temp paths, addresses and ports, memory addresses, epoch
/// stamps. Each rule is narrow on purpose: a number that could matter (a count, an exit code, "expected 3 got 4",
/// a 32-bit register value, a version) is left alone, since folding it would hide a real change.
/// </summary>
public static partial class VolatileTokens
{
    // The rules, one per placeholder kind (see Kinds and Rules for their order).
    private const string Timestamp =
        // ISO 8601 / RFC 3339: a date, optionally a time, fraction and zone; also the compact 20250712T140322Z.
        @"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}(?!\d))?)?(?![\d:])"
        + @"|(?<!\d)\d{8}T\d{6}(?:[.,]\d{1,9})?(?:Z|[+-]\d{4})?(?!\d)"
        // syslog and ctime: "Jul 12 14:03:22", "Sat Jul 12 14:03:22 2025".
        + @"|(?<!\w)(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? )?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]?\d \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?: \d{4}(?!\d))?(?![\d:])";

    // The kernel's seconds since boot: "[12345.678901]" opening a line or following "kernel: ".
    private const string Uptime = @"(?:(?<=^)|(?<=kernel: ))\[\s*\d+\.\d{3,9}\]";

    private const string Uuid = @"(?<![\w-])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-])";

    // TestDispatch's 12-hex run ids, in a run dir path or after "run" (a run id may happen to be all digits).
    private const string RunId = @"(?:(?<=\bruns/)|(?<=\brun(?:[ _-]?id)?[ =:] ?))[0-9a-f]{12}(?![\w])";

    // 0x and 9 to 16 hex digits: wider than 32 bits, so a pointer rather than a register or status value.
    private const string Address = @"(?<!\w)0x[0-9a-fA-F]{9,16}(?!\w)";

    // Unix time: 13, 16 or 19 digits (ms, us, ns) from 2017 to 2033, or 10 digits with a fraction or after a time key.
    private const string Epoch =
        @"(?<![\w.])1[5-9]\d{11}(?:\d{3}){0,2}(?![\w.])|(?<![\w.])1[5-9]\d{8}\.\d{1,9}(?!\w)|(?<=\b(?:ts|time|timestamp|epoch)""?[=:] ?""?)1[5-9]\d{8}(?![\w.])";

    private const string Ip =
        // IPv6 with "::" or all eight groups, holding a digit, with an optional zone and "]:port".
        @"(?<![\w:.])(?=[0-9a-fA-F:]*\d)(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{0,4}::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{0,4})(?:%[\w.]+)?(?![\w:])(?:\]:\d{1,5}(?!\d))?"
        // IPv4 with an optional port; not after "v" or "version" (a four-part version number looks the same).
        + @"|(?<![\w.])(?<![Vv]ersion[ =:]|[Vv]ersion)(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?::\d{1,5})?(?!\.?\d)(?!\w)";

    private const string Port = @"(?<=\blocalhost:)\d{1,5}(?!\d)";

    private const string Time = @"(?<![\d:.])\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?![\d:])";

    private const string Duration =
        // A number and unit, or a compound of them: 1.23s, 12ms, 5m, 3m05s, 1h2m3.5s; after a space, no one-letter unit ("3 m").
        @"(?<![\w.])(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|sec|secs|min|mins)(?!\w)"
        + @"|(?<![\w.])\d+(?:\.\d+)? (?:ns|us|µs|ms|msecs?|secs?|seconds?|milliseconds?|microseconds?|nanoseconds?|mins?|minutes?|hours?)(?!\w)";

    // 8 or more hex digits with at least one digit and one letter: ids and hashes, not words ("deadbeef") nor
    // plain numbers ("12345678" bytes); and 16 or more decimal digits, a random id that drew no letter (counts are shorter).
    private const string Hex = @"(?<!\w)(?:(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}|\d{16,})(?!\w)";

    // "pid 1234", "pid=1234", "PID: 1234", and syslog's "sshd[1234]:" (3 digits at least there: "items[3]:" is an index).
    private const string Pid = @"(?<=\b[Pp][Ii][Dd][ =:] ?)\d+(?!\w)|(?<=[A-Za-z][\w.-]*\[)\d{3,}(?=\]:)";

    // The first component under a temp dir (what mktemp and friends make per run), and mktemp's and Python's names anywhere.
    private const string Tmp =
        @"(?<![\w.])(?:/var/tmp|/tmp|/dev/shm)/[^/\s'"":;,)\]]+"
        + @"|(?<![\w.])tmp\.[A-Za-z0-9]{6,}(?!\w)|(?<![\w.])tmp(?=[a-z0-9_]{0,7}\d)[a-z0-9_]{8}(?!\w)";

    /// <summary>The placeholder kinds, one per rule, in the order the rules are tried.</summary>
    public static IReadOnlyList<string> Kinds { get; } =
        ["timestamp", "uptime", "uuid", "run", "addr", "epoch", "ip", "port", "time", "duration", "hex", "pid", "tmp"];

    /// <summary>What stands in for every token in <see cref="FoldInto"/>: a private-use char no log is expected to hold.</summary>
    internal const char Placeholder = '\uE000';

    private const int AllRules = (1 << 13) - 1;

    // One anchored regex per rule, in the order of Kinds: at a position the first rule that matches wins (a
    // timestamp before its time, a UUID before its hex). \G: each is tried only where Next says it can match.
    private static readonly Regex[] Rules =
        [TimestampRule(), UptimeRule(), UuidRule(), RunRule(), AddrRule(), EpochRule(), IpRule(), PortRule(), TimeRule(), DurationRule(), HexRule(), PidRule(), TmpRule()];

    /// <summary>The line with each volatile token replaced by its kind in angle brackets: "<c>&lt;time&gt; pid=&lt;pid&gt; ok</c>".</summary>
    public static string Fold(string line) => Fold(line, gated: true);

    /// <summary><see cref="Fold(string)"/>, or (for tests) the same trying every rule at every position, as a plain regex scan would.</summary>
    internal static string Fold(string line, bool gated)
    {
        StringBuilder folded = new(line.Length);
        int copied = 0;
        int rules = AllRules;
        int i = gated ? Next(line, 0, out rules) : 0;
        while (i < line.Length)
        {
            (int kind, int length) = Match(line, i, gated ? rules : AllRules);
            if (kind >= 0)
            {
                folded.Append(line, copied, i - copied).Append('<').Append(Kinds[kind]).Append('>');
                copied = i + length;
            }
            i = kind >= 0 ? i + length : i + 1;
            if (gated)
            {
                i = Next(line, i, out rules);
            }
        }
        return folded.Append(line, copied, line.Length - copied).ToString();
    }

    /// <summary>
    /// Writes <paramref name="line"/> into <paramref name="folded"/> (at least as long) with each token replaced by
    /// <see cref="Placeholder"/>, and returns the folded length: the same tokens as <see cref="Fold(string)"/>, with no allocation.
    /// </summary>
    internal static int FoldInto(ReadOnlySpan<char> line, Span<char> folded)
    {
        int written = 0, copied = 0;
        for (int i = Next(line, 0, out int rules); i < line.Length; i = Next(line, i, out rules))
        {
            (int kind, int length) = Match(line, i, rules);
            if (kind < 0)
            {
                i++;
                continue;
            }
            line[copied..i].CopyTo(folded[written..]);
            written += i - copied;
            folded[written++] = Placeholder;
            i = copied = i + length;
        }
        line[copied..].CopyTo(folded[written..]);
        return written + line.Length - copied;
    }

    /// <summary>The first of <paramref name="rules"/> (a bit per rule) that matches at <paramref name="at"/>, and its length; kind -1 for none.</summary>
    private static (int Kind, int Length) Match(ReadOnlySpan<char> line, int at, int rules)
    {
        for (int kind = 0; rules != 0; kind++, rules >>= 1)
        {
            if ((rules & 1) != 0)
            {
                Regex.ValueMatchEnumerator matches = Rules[kind].EnumerateMatches(line, at);
                if (matches.MoveNext() && matches.Current.Length > 0)
                {
                    return (kind, matches.Current.Length);
                }
            }
        }
        return (-1, 0);
    }

    /// <summary>
    /// The first position from <paramref name="i"/> where a token can begin, with the <paramref name="rules"/> that
    /// can match there (<see cref="Possible"/>). Trying the rules only there gives the matches a scan of every position
    /// would, at a fraction of the cost: a scan tries every rule at every char, and logs are full of digits.
    /// </summary>
    private static int Next(ReadOnlySpan<char> line, int i, out int rules)
    {
        while (i < line.Length)
        {
            char c = line[i];
            // Every rule starts with a word char not preceded by one (each has such a lookbehind), with a digit not
            // preceded by a digit (the date and time rules), or with '/', ':' or '['. So within a run of letters or of
            // digits only the first can start a token, and the rest of the run is skipped in one vectorized step.
            char before = i > 0 ? line[i - 1] : ' ';
            bool letter = char.IsAsciiLetter(c), digit = char.IsAsciiDigit(c);
            bool start = c is '/' or ':' or '['
                || (letter && !char.IsAsciiLetterOrDigit(before) && before != '_')
                || (digit && !char.IsAsciiDigit(before));
            if (start && (rules = Possible(line, i)) != 0)
            {
                return i;
            }
            if (letter || digit)
            {
                int run = line[(i + 1)..].IndexOfAnyExcept(letter ? AsciiLetters : AsciiDigits);
                i = run < 0 ? line.Length : i + 1 + run;
            }
            else
            {
                i++;
            }
        }
        rules = 0;
        return line.Length;
    }

    private static readonly SearchValues<char> AsciiLetters = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    private static readonly SearchValues<char> AsciiDigits = SearchValues.Create("0123456789");

    /// <summary>
    /// The rules that could match at <paramref name="p"/>, a bit each (Kinds' order), from what each one needs there.
    /// A test holds this to the rules: folding with and without it must agree. None for nearly all words and numbers.
    /// </summary>
    private static int Possible(ReadOnlySpan<char> line, int p)
    {
        char c = line[p];
        switch (c)
        {
            case '[':
                return p == 0 || line[..p].EndsWith("kernel: ", StringComparison.Ordinal) ? Bit(Kind.Uptime) : 0;
            case ':':
                return At(line, p + 1) == ':' ? Bit(Kind.Ip) : 0; // IPv6 "::1"
            case '/':
                ReadOnlySpan<char> path = line[p..];
                return path.StartsWith("/tmp/", StringComparison.Ordinal) || path.StartsWith("/var/tmp/", StringComparison.Ordinal)
                    || path.StartsWith("/dev/shm/", StringComparison.Ordinal) ? Bit(Kind.Tmp) : 0;
        }
        if (char.IsAsciiLetter(c) && !char.IsAsciiHexDigit(c) && !"JMNOSTW".Contains(c, StringComparison.Ordinal) && c != 't')
        {
            return 0; // most words: no rule starts with their letter
        }
        int digits = Run(line, p, hex: false), hex = Run(line, p, hex: true);
        char afterDigits = At(line, p + digits), afterHex = At(line, p + hex), before = At(line, p - 1);
        int rules = 0;
        if ((digits == 4 && afterDigits == '-') || (digits == 8 && afterDigits == 'T')
            || (char.IsAsciiLetterUpper(c) && "JFMASONDTW".Contains(c, StringComparison.Ordinal) && At(line, p + 3) is ' ' or ','))
        {
            rules |= Bit(Kind.Timestamp); // ISO and compact dates; syslog and ctime month or weekday names
        }
        if (hex == 8 && afterHex == '-')
        {
            rules |= Bit(Kind.Uuid);
        }
        if (hex == 12)
        {
            rules |= Bit(Kind.Run);
        }
        if (c == '0' && afterDigits == 'x')
        {
            rules |= Bit(Kind.Addr);
        }
        if (digits is 10 or 13 or 16 or 19)
        {
            rules |= Bit(Kind.Epoch);
        }
        if ((hex is >= 1 and <= 4 && afterHex == ':') || (digits is >= 1 and <= 3 && afterDigits == '.'))
        {
            rules |= Bit(Kind.Ip);
        }
        if (digits > 0 && before == ':')
        {
            rules |= Bit(Kind.Port);
        }
        if (digits is 1 or 2 && afterDigits == ':')
        {
            rules |= Bit(Kind.Time);
        }
        if (digits > 0 && (afterDigits is '.' or 'h' or 'm' or 'n' or 'u' or 'µ' or 's'
            || (afterDigits == ' ' && At(line, p + digits + 1) is 'n' or 'u' or 'µ' or 'm' or 's' or 'h')))
        {
            rules |= Bit(Kind.Duration); // "1.5s", "12ms", "3m05s", "250 ms", "3 seconds"
        }
        if (hex >= 8 || digits >= 16)
        {
            rules |= Bit(Kind.Hex);
        }
        if (digits > 0 && (before is ':' or '[' or '=' || (before == ' ' && At(line, p - 2) is 'd' or 'D' or ':' or '=' or ' ')))
        {
            rules |= Bit(Kind.Pid); // "pid=1", "PID: 1", "pid 1", "sshd[123]:"
        }
        if (c == 't' && line[p..].StartsWith("tmp", StringComparison.Ordinal))
        {
            rules |= Bit(Kind.Tmp);
        }
        return rules;
    }

    private enum Kind
    {
        Timestamp,
        Uptime,
        Uuid,
        Run,
        Addr,
        Epoch,
        Ip,
        Port,
        Time,
        Duration,
        Hex,
        Pid,
        Tmp,
    }

    private static int Bit(Kind kind) => 1 << (int)kind;

    private static int Run(ReadOnlySpan<char> line, int p, bool hex)
    {
        int end = p;
        while (end < line.Length && (hex ? char.IsAsciiHexDigit(line[end]) : char.IsAsciiDigit(line[end])))
        {
            end++;
        }
        return end - p;
    }

    private static char At(ReadOnlySpan<char> line, int i) => i >= 0 && i < line.Length ? line[i] : '\0';

    private const RegexOptions Options = RegexOptions.ExplicitCapture | RegexOptions.CultureInvariant;

    [GeneratedRegex(@"\G(?:" + Timestamp + ")", Options)]
    private static partial Regex TimestampRule();

    [GeneratedRegex(@"\G(?:" + Uptime + ")", Options)]
    private static partial Regex UptimeRule();

    [GeneratedRegex(@"\G(?:" + Uuid + ")", Options)]
    private static partial Regex UuidRule();

    [GeneratedRegex(@"\G(?:" + RunId + ")", Options)]
    private static partial Regex RunRule();

    [GeneratedRegex(@"\G(?:" + Address + ")", Options)]
    private static partial Regex AddrRule();

    [GeneratedRegex(@"\G(?:" + Epoch + ")", Options)]
    private static partial Regex EpochRule();

    [GeneratedRegex(@"\G(?:" + Ip + ")", Options)]
    private static partial Regex IpRule();

    [GeneratedRegex(@"\G(?:" + Port + ")", Options)]
    private static partial Regex PortRule();

    [GeneratedRegex(@"\G(?:" + Time + ")", Options)]
    private static partial Regex TimeRule();

    [GeneratedRegex(@"\G(?:" + Duration + ")", Options)]
    private static partial Regex DurationRule();

    [GeneratedRegex(@"\G(?:" + Hex + ")", Options)]
    private static partial Regex HexRule();

    [GeneratedRegex(@"\G(?:" + Pid + ")", Options)]
    private static partial Regex PidRule();

    [GeneratedRegex(@"\G(?:" + Tmp + ")", Options)]
    private static partial Regex TmpRule();
}
