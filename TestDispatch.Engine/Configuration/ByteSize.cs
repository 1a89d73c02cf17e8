using System.Globalization;

namespace TestDispatch.Engine.Configuration;

/// <summary>Sizes as people write and read them: "512 B", "64KiB", "100MiB", "1.2 GiB" (powers of 1024; KB, MB, GB: of 1000).</summary>
public static class ByteSize
{
    public const string Help = "write a number with a unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (of 1000)";

    /// <summary>The smallest log limit: below it a log could not say what a test printed before it failed.</summary>
    public const long SmallestLogLimit = 64 << 10;

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 10):0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };

    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        string t = (text ?? "").Trim();
        (string unit, long scale) = UnitOf(t);
        if (scale == 0 || !double.TryParse(t[..^unit.Length].Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number) ||
            number * scale > long.MaxValue)
        {
            return false;
        }
        bytes = (long)(number * scale);
        return true;
    }

    private static (string Unit, long Scale) UnitOf(string text)
    {
        foreach ((string unit, long scale) in Units)
        {
            if (text.EndsWith(unit, StringComparison.OrdinalIgnoreCase) && text.Length > unit.Length)
            {
                return (unit, scale);
            }
        }
        return ("", 0);
    }

    private static readonly (string Unit, long Scale)[] Units =
        [("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("KB", 1000), ("MB", 1000_000), ("GB", 1000_000_000), ("B", 1)];
}
