using System.Diagnostics;
using System.Text.Json;
using CliWrap;

namespace TestDispatch.Bench;

/// <summary>
/// Batches in the best order, on a real suite: CPython's own test modules (a fixed list of 40, each a test dir whose run.sh
/// runs <c>python -m test MODULE</c>, regrtest on one module) as one batch over the two local machines, against GNU
/// parallel -j2 and xargs -P2 over the same run.sh files in the plan's order, all in the same sitting. The first batch knows
/// nothing of the modules (plan order); the second is the same plan again, handed out longest first from what the first
/// one learnt; the third keeps the plan's order on purpose (<c>"order": "plan"</c>), so the gain of the order is measured
/// against the same knowledge. Wall times of whole batches; figures, not assertions.
/// </summary>
internal static class OrderBenchmark
{
    /// <summary>
    /// In alphabetical order, which puts some of the slowest (test_tarfile, test_zipfile, test_zlib…) at the end: what a plan
    /// written by hand, or generated from a directory listing, looks like.
    /// </summary>
    private static readonly string[] Modules =
    [
        "test_bisect", "test_bool", "test_bytes", "test_collections", "test_complex", "test_datetime", "test_decimal", "test_dict",
        "test_enum", "test_float", "test_fractions", "test_functools", "test_generators", "test_grammar", "test_heapq", "test_itertools",
        "test_json", "test_list", "test_long", "test_math", "test_operator", "test_ordered_dict", "test_pickle", "test_re", "test_set",
        "test_statistics", "test_string", "test_struct", "test_textwrap", "test_time", "test_tokenize", "test_tuple", "test_types",
        "test_typing", "test_unicode", "test_userdict", "test_weakref", "test_zipfile", "test_tarfile", "test_zlib",
    ];

    public static int Run(BenchArgs args)
    {
        string binary = DispatchBenchmark.LocateBinary(args.String("testdispatch"));
        string python = args.String("python") ?? DispatchBenchmark.FindOnPath("python3")
            ?? throw new BenchUsageException("no python3 on PATH; give one with --python PATH");
        int count = args.Int("modules") ?? Modules.Length;
        string root = args.String("dir") ?? Path.Combine(Path.GetTempPath(), $"td-order-bench-{Environment.ProcessId}");
        args.RejectUnused();
        string[] modules = Modules[..Math.Min(count, Modules.Length)];
        Console.WriteLine($"order benchmark: {binary}; {modules.Length} CPython test modules with {python}; {Environment.ProcessorCount} cores; " +
            $"load {SyntheticRuns.LoadAverage()}");
        try
        {
            LabSandbox lab = new(binary, root, "10m");
            string[] dirs = [.. modules.Select(m => MakeTest(root, python, m))];
            string plan = WritePlan(root, "plan", modules, dirs, order: null);
            string planOrder = WritePlan(root, "plan-order", modules, dirs, order: "plan");

            TextTable table = new("how", "wall s", "vs parallel -j2", "entries passed");
            (double first, int firstPassed) = Batch(lab, plan);
            (double second, int secondPassed) = Batch(lab, plan);
            (double kept, int keptPassed) = Batch(lab, planOrder);
            string? parallel = DispatchBenchmark.FindOnPath("parallel");
            double? gnu = parallel is null ? null : Time(parallel, ["--will-cite", "-j2", "{}/run.sh", ":::", .. dirs]);
            double xargs = Time("xargs", ["-d", "\n", "-P2", "-n1", "sh", "-c", "exec \"$0/run.sh\""], stdin: string.Join('\n', dirs));

            string Vs(double s) => gnu is { } g ? $"{s / g:0.00}x" : "-";
            table.Add("batch, first (nothing known: plan order)", $"{first:0.0}", Vs(first), $"{firstPassed}/{modules.Length}");
            table.Add("batch, again (longest first from history)", $"{second:0.0}", Vs(second), $"{secondPassed}/{modules.Length}");
            table.Add("batch, again with \"order\": \"plan\"", $"{kept:0.0}", Vs(kept), $"{keptPassed}/{modules.Length}");
            table.Add("GNU parallel -j2, plan order", gnu is { } p ? $"{p:0.0}" : "not installed", gnu is null ? "-" : "1.00x", "-");
            table.Add("xargs -P2, plan order", $"{xargs:0.0}", Vs(xargs), "-");
            Console.WriteLine();
            table.Write(Console.Out);
            Console.WriteLine($"  longest first vs plan order, same knowledge: {second / kept:0.00}x the wall time");
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        return 0;
    }

    private static string MakeTest(string root, string python, string module)
    {
        string dir = Path.Combine(root, "tests", module);
        Directory.CreateDirectory(dir);
        string runSh = Path.Combine(dir, "run.sh");
        File.WriteAllText(runSh, $"#!/bin/sh\nexec '{python}' -m test -q {module}\n");
        File.SetUnixFileMode(runSh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    private static string WritePlan(string root, string name, string[] modules, string[] dirs, string? order)
    {
        string path = Path.Combine(root, name + ".json");
        using FileStream file = File.Create(path);
        using Utf8JsonWriter json = new(file);
        json.WriteStartObject();
        json.WriteString("name", "cpython");
        if (order is not null)
        {
            json.WriteString("order", order);
        }
        json.WriteStartArray("entries");
        for (int i = 0; i < modules.Length; i++)
        {
            json.WriteStartObject();
            json.WriteString("name", modules[i]);
            json.WriteString("test_dir", dirs[i]);
            json.WriteStartArray("tags");
            json.WriteStringValue("local");
            json.WriteEndArray();
            json.WriteString("timeout", "10m");
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        return path;
    }

    /// <summary>One <c>batch submit --wait</c> of the plan: its wall time in seconds and how many entries passed.</summary>
    private static (double Seconds, int Passed) Batch(LabSandbox lab, string plan)
    {
        Console.Error.WriteLine($"[bench] batch submit {Path.GetFileName(plan)} --wait");
        CliCall submitted = lab.CallAsync("batch", "submit", plan, "--wait", "--json").GetAwaiter().GetResult();
        using JsonDocument batch = JsonDocument.Parse(submitted.Stdout);
        int passed = batch.RootElement.GetProperty("counts").GetProperty("completed").GetInt32();
        return (submitted.Milliseconds / 1000, passed);
    }

    private static double Time(string program, string[] arguments, string stdin = "")
    {
        Console.Error.WriteLine($"[bench] {program} over the same run.sh");
        Stopwatch clock = Stopwatch.StartNew();
        Cli.Wrap(program).WithArguments(arguments).WithValidation(CommandResultValidation.None).WithStandardInputPipe(PipeSource.FromString(stdin))
            .WithStandardOutputPipe(PipeTarget.Null).WithStandardErrorPipe(PipeTarget.Null)
            .ExecuteAsync().GetAwaiter().GetResult();
        return clock.Elapsed.TotalSeconds;
    }
}
