using ArchUnitNET.Domain;
using ArchUnitNET.Fluent;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using TestDispatch.Engine;
using TestDispatch.Tui.Cli;
using static ArchUnitNET.Fluent.ArchRuleDefinition;

namespace TestDispatch.Tests;

/// <summary>
/// The layers of docs/DESIGN.md §10, kept by a test: each part of the engine and of the app may depend only on the parts
/// listed for it here, so a change that adds an arrow the wrong way fails with a message naming both types. The table is
/// the picture in the README's Architecture section; change them together.
/// </summary>
[Trait("Category", "Unit")]
public sealed class ArchitectureTests
{
    private const string Engine = "TestDispatch.Engine";
    private const string Tui = "TestDispatch.Tui";

    /// <summary>
    /// Every part (a namespace and those under it) and the parts it may use; a part may always use itself. "Lab" is the
    /// engine's own namespace, the front door (Lab, and the JSON contract's serializer).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string[]> Allowed = new Dictionary<string, string[]>
    {
        ["IO"] = [],
        ["Errors"] = ["IO"],
        ["Processes"] = ["IO"],
        ["Wrapper"] = ["Processes", "IO"],
        ["Configuration"] = ["Errors", "IO"],
        ["Results"] = [],
        ["Runs"] = ["Results", "Wrapper", "Configuration", "Errors", "IO"],
        ["Batches"] = ["Runs", "Results", "Wrapper", "Configuration", "Errors", "IO"],
        ["Machines"] = ["Runs", "Batches", "Configuration", "Errors", "IO"],
        ["Logs"] = ["Runs", "Results", "Errors", "IO"],
        ["Transports"] = ["Wrapper", "Processes", "Configuration", "Errors", "IO"],
        ["Storage"] = ["Runs", "Batches", "Machines", "Results", "Wrapper", "Configuration", "Errors", "IO"],
        ["Scheduling"] = ["Storage", "Runs", "Batches", "Machines", "Results", "Wrapper", "Configuration", "Errors", "IO"],
        ["Diagnostics"] = ["Scheduling", "Storage", "Transports", "Runs", "Batches", "Machines", "Wrapper", "Processes", "Configuration", "Errors", "IO"],
        ["Execution"] = ["Scheduling", "Storage", "Transports", "Logs", "Results", "Runs", "Batches", "Machines", "Wrapper", "Processes", "Configuration", "Errors", "IO"],
        ["Lab"] = ["Execution", "Diagnostics", "Scheduling", "Storage", "Transports", "Logs", "Results", "Runs", "Batches", "Machines", "Wrapper", "Processes",
            "Configuration", "Errors", "IO"],
        ["Tui.Text"] = ["Runs", "Batches", "Machines", "Results", "Diagnostics", "Configuration", "Errors"],
        ["Tui.App"] = ["Tui.Text", "Lab", "Runs", "Batches", "Machines", "Results", "Logs", "Configuration", "Errors"],
        ["Tui.Cli"] = ["Tui.Text", "Tui.App", "Lab", "Runs", "Batches", "Machines", "Results", "Logs", "Diagnostics", "Configuration", "Errors", "Processes"],
    };

    private static readonly Architecture Product = new ArchLoader().LoadAssemblies(typeof(Lab).Assembly, typeof(CliApp).Assembly).Build();

    public static TheoryData<string> Parts => [.. Allowed.Keys];

    [Theory]
    [MemberData(nameof(Parts))]
    public void A_part_depends_only_on_the_parts_below_it(string part)
    {
        Rule(part).Check(Product);
    }

    [Fact]
    public void The_engine_never_depends_on_the_app()
    {
        Types().That().ResideInNamespaceMatching(Pattern(Engine)).Should()
            .NotDependOnAnyTypesThat().ResideInNamespaceMatching(Pattern(Tui)).Check(Product);
    }

    [Fact]
    public void Every_part_of_the_product_is_in_the_table()
    {
        string[] unlisted = [.. Product.Types
            .Select(t => t.Namespace.FullName)
            .Where(ns => ns.StartsWith(Engine + ".", StringComparison.Ordinal) || ns.StartsWith(Tui + ".", StringComparison.Ordinal))
            .Where(ns => PartOf(ns) is null)
            .Distinct()];
        Assert.True(unlisted.Length == 0, $"namespaces no row of the table covers (add them, with the parts they may use): {string.Join(", ", unlisted)}");
    }

    [Fact]
    public void A_wrong_arrow_fails_naming_both_types()
    {
        // A transport that reaches into the store: what the rule exists to refuse.
        Architecture withProbe = new ArchLoader()
            .LoadAssemblies(typeof(Lab).Assembly, typeof(CliApp).Assembly, typeof(Engine.Transports.ArchitectureProbe).Assembly).Build();

        FailedArchRuleException failure = Assert.Throws<FailedArchRuleException>(() => Rule("Transports").Check(withProbe));

        Assert.Contains(typeof(Engine.Transports.ArchitectureProbe).FullName!, failure.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(Engine.Storage.RunStore).FullName!, failure.Message, StringComparison.Ordinal);
    }

    private static IArchRule Rule(string part)
    {
        string[] forbidden = [.. Allowed.Keys.Where(other => other != part && !Allowed[part].Contains(other))];
        return Types().That().ResideInNamespaceMatching(Pattern(Namespace(part))).Should()
            .NotDependOnAnyTypesThat().ResideInNamespaceMatching(string.Join('|', forbidden.Select(f => $"({Pattern(Namespace(f))})")))
            .Because($"docs/DESIGN.md §10: {part} may use only {(Allowed[part].Length == 0 ? "nothing of ours" : string.Join(", ", Allowed[part]))}");
    }

    /// <summary>The namespace of a part: the app's parts under TestDispatch.Tui, Lab the engine's own (root) namespace, the rest under the engine.</summary>
    private static string Namespace(string part) =>
        part.StartsWith("Tui.", StringComparison.Ordinal) ? $"TestDispatch.{part}" : part == "Lab" ? Engine : $"{Engine}.{part}";

    /// <summary>A namespace and those under it, except for the engine's root, which is Lab's alone.</summary>
    private static string Pattern(string ns) => ns == Engine ? $"^{Regex(ns)}$" : $"^{Regex(ns)}(\\..*)?$";

    private static string Regex(string ns) => System.Text.RegularExpressions.Regex.Escape(ns);

    private static string? PartOf(string ns) => Allowed.Keys.FirstOrDefault(p =>
        System.Text.RegularExpressions.Regex.IsMatch(ns, Pattern(Namespace(p))));
}
