using System.Diagnostics;

namespace TestDispatch.Bench;

/// <summary>Latency samples in milliseconds, with nearest-rank percentiles.</summary>
internal sealed class Samples
{
    private readonly List<double> _ms = [];
    private double[]? _sorted;

    public int Count => _ms.Count;

    public void Add(double milliseconds)
    {
        _ms.Add(milliseconds);
        _sorted = null;
    }

    /// <summary>Adds the time since <paramref name="startTimestamp"/> (a <see cref="Stopwatch.GetTimestamp"/> value).</summary>
    public void AddSince(long startTimestamp) => Add(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds);

    /// <summary>The first sample taken (for a cold start, the one that paid for JIT).</summary>
    public double First => _ms.Count > 0 ? _ms[0] : throw new InvalidOperationException("no samples");

    public double Median => Percentile(50);

    public double P99 => Percentile(99);

    public double Min => Sorted()[0];

    public double Max => Sorted()[^1];

    public double Percentile(double p)
    {
        double[] sorted = Sorted();
        if (p == 50)
        {
            int mid = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }
        int rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private double[] Sorted()
    {
        if (_ms.Count == 0)
        {
            throw new InvalidOperationException("no samples");
        }
        if (_sorted is null)
        {
            _sorted = [.. _ms];
            Array.Sort(_sorted);
        }
        return _sorted;
    }
}
