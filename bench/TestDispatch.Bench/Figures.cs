using System.Globalization;

namespace TestDispatch.Bench;

/// <summary>How every benchmark writes its figures: times, ratios against a baseline of the same run, sizes, and verdicts.</summary>
internal static class Figures
{
    /// <summary>Milliseconds with the digits that matter: "0.195", "12.40", "1234.5"; "?" when unknown.</summary>
    public static string Ms(double ms) => double.IsNaN(ms) ? "?"
        : ms.ToString(Math.Abs(ms) >= 100 ? "F1" : Math.Abs(ms) >= 1 ? "F2" : "F3", CultureInfo.InvariantCulture);

    /// <summary>Milliseconds as seconds: "1.234".</summary>
    public static string Seconds(double ms) => (ms / 1000).ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>A ratio to a baseline: "1.13x", "250x".</summary>
    public static string Ratio(double r) => double.IsNaN(r) ? "?" : r.ToString(r >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture) + "x";

    public static string Percent(double share) => (100 * share).ToString("F0", CultureInfo.InvariantCulture) + "%";

    public static string Int(long n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>A count as sizes are named: "20k" for 20000.</summary>
    public static string Count(int n) => n >= 1000 && n % 1000 == 0 ? $"{n / 1000}k" : Int(n);

    public static string MiB(long bytes) => (bytes / (double)(1 << 20)).ToString("F1", CultureInfo.InvariantCulture) + " MiB";

    /// <summary>Whether a goal was met, as the figures' last column says it.</summary>
    public static string Verdict(bool met) => met ? "MET" : "NOT MET";
}
