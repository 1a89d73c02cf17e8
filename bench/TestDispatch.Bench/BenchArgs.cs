using System.Globalization;

namespace TestDispatch.Bench;

/// <summary>Thrown for a bad command line; the program prints it with the usage.</summary>
internal sealed class BenchUsageException(string message) : Exception(message);

/// <summary>
/// "--name value" and "--flag" options of one benchmark. Each benchmark takes the options it knows and
/// then calls <see cref="RejectUnused"/>, so a typo is an error rather than a silently ignored option.
/// </summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public static BenchArgs Parse(IReadOnlyList<string> args)
    {
        BenchArgs parsed = new();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new BenchUsageException($"unexpected argument '{arg}'");
            }
            string name = arg[2..];
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }
            parsed._options[name] = value;
        }
        return parsed;
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (_options.TryGetValue(name, out string? value) && value is not null)
        {
            throw new BenchUsageException($"--{name} takes no value");
        }
        return _options.ContainsKey(name);
    }

    public string? String(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out string? value))
        {
            return null;
        }
        return value ?? throw new BenchUsageException($"--{name} needs a value");
    }

    public int? Int(string name, int min = 1) =>
        String(name) is { } text ? ParseInt(name, text, min) : null;

    public IReadOnlyList<int>? IntList(string name, int min = 1) =>
        String(name) is { } text
            ? [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(part => ParseInt(name, part, min))]
            : null;

    public void RejectUnused()
    {
        List<string> unknown = [.. _options.Keys.Where(name => !_used.Contains(name))];
        if (unknown.Count > 0)
        {
            throw new BenchUsageException($"unknown option(s): {string.Join(", ", unknown.Select(name => "--" + name))}");
        }
    }

    private static int ParseInt(string name, string text, int min)
    {
        string digits = text.Replace("_", "", StringComparison.Ordinal);
        if (!int.TryParse(digits, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min)
        {
            throw new BenchUsageException($"--{name}: '{text}' is not an integer ≥ {min}");
        }
        return value;
    }
}
