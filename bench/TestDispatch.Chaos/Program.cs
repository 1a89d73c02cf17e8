using System.Globalization;

namespace TestDispatch.Chaos;

/// <summary>
/// The chaos harness (docs/RELIABILITY.md): seeded storms of concurrent clients of the real testdispatch binary over local
/// and loopback-ssh machines, with processes SIGKILLed and SIGSTOPped and the disk filled at random moments, every invariant
/// checked after each round. Prints the figures; exits 1 if any invariant was violated.
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        int seed = 1;
        double minutes = 1;
        int clients = 4;
        int stormSeconds = 20;
        bool ssh = true, disk = true, keep = false;
        string binary = Path.Combine(AppContext.BaseDirectory, "testdispatch");
        string? root = null;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--seed": seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--minutes": minutes = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--clients": clients = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--storm-seconds": stormSeconds = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--testdispatch": binary = Path.GetFullPath(Value()); break;
                    case "--dir": root = Path.GetFullPath(Value()); break;
                    case "--no-ssh": ssh = false; break;
                    case "--no-disk": disk = false; break;
                    case "--keep": keep = true; break;
                    case "-h" or "--help": Usage(Console.Out); return 0;
                    default: throw new FormatException($"unknown argument {args[i]}");
                }
            }
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Usage(Console.Error);
            return 2;
        }
        root ??= Directory.CreateTempSubdirectory("tdchaos-").FullName;
        ChaosOptions options = new(binary, root, seed, TimeSpan.FromMinutes(minutes), TimeSpan.FromSeconds(stormSeconds), clients, ssh, disk);
        using CancellationTokenSource interrupted = new();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            interrupted.Cancel();
        };
        DateTimeOffset start = DateTimeOffset.UtcNow;
        (Figures figures, string diskNote) = await ChaosHarness.RunAsync(options, keep, interrupted.Token);
        figures.Write(Console.Out, seed, DateTimeOffset.UtcNow - start, diskNote);
        return figures.Violations.Count == 0 ? 0 : 1;
    }

    private static void Usage(TextWriter to)
    {
        to.WriteLine("usage: dotnet run -c Release --project bench/TestDispatch.Chaos -- [options]");
        to.WriteLine("  --seed N            seeds every random choice (default 1)");
        to.WriteLine("  --minutes M         stop starting rounds after M minutes (default 1)");
        to.WriteLine("  --clients N         concurrent clients per storm (default 4)");
        to.WriteLine("  --storm-seconds N   length of each round's storm (default 20)");
        to.WriteLine("  --testdispatch PATH the binary to drive (default: the one built beside this program)");
        to.WriteLine("  --dir PATH          where to make the lab (default: a new temp dir)");
        to.WriteLine("  --no-ssh            local machines only; --no-disk: never fill the disk; --keep: leave the lab dir");
    }
}
