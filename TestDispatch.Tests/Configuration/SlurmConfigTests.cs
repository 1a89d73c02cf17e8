using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Configuration;

/// <summary>A Slurm machine's configuration: a node machine, a pool, and the sbatch options that would break the transport.</summary>
[Trait("Category", "Unit")]
public sealed class SlurmConfigTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private LabConfig Load(string machines)
    {
        string path = _dir.Combine("config.json");
        File.WriteAllText(path, $$"""{ "TestDispatch": { "Machines": [ {{machines}} ] } }""");
        return LabConfigLoader.Load(new ConfigSources { DefaultFile = path, UserFile = _dir.Combine("none.json"), Environment = new Dictionary<string, string> { ["HOME"] = "/home/lab" } });
    }

    private string Refused(string machines) => Assert.Throws<DispatchException>(() => Load(machines)) is { ErrorCode: ErrorCodes.ConfigInvalid } e
        ? e.Message : throw new InvalidOperationException("not config_invalid");

    [Fact]
    public void A_node_machine_and_a_pool_load_with_their_slurm_keys()
    {
        LabConfig config = Load("""
            { "Name": "n2", "Transport": "slurm", "Node": "n2", "Partition": "lab", "WorkRoot": "/shared/td", "SlurmOptions": ["--qos=test"], "Tags": ["x86"] },
            { "Name": "fast", "Transport": "slurm", "Partition": "lab", "Constraint": "fast", "WorkRoot": "/shared/td" }
            """);

        Machine node = config.Machines[0];
        Machine pool = config.Machines[1];
        Assert.Equal((TransportKind.Slurm, "n2", "lab", "/shared/td", "--qos=test", "slurm:n2"),
            (node.Transport, node.Node, node.Partition, node.WorkRoot, Assert.Single(node.SlurmOptions), node.Location));
        Assert.Equal((null, "fast", "slurm:lab pool"), (pool.Node, pool.Constraint, pool.Location));
    }

    [Theory]
    [InlineData("--wrap=true")]
    [InlineData("-o")]
    [InlineData("--output=/tmp/x")]
    [InlineData("-e")]
    [InlineData("--error")]
    [InlineData("--parsable")]
    [InlineData("--array=1-3")]
    [InlineData("-a")]
    [InlineData("-J")]
    [InlineData("--job-name=x")]
    public void A_slurm_option_the_transport_sets_itself_is_refused_naming_the_machine(string option)
    {
        string message = Refused($$"""{ "Name": "n2", "Transport": "slurm", "Node": "n2", "WorkRoot": "/shared/td", "SlurmOptions": ["{{option}}"] }""");

        Assert.Contains($"SlurmOptions of machine 'n2' has {option}, which the slurm transport cannot allow", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_list_on_a_pool_is_refused_and_points_at_node_and_constraint()
    {
        string message = Refused("""{ "Name": "pool", "Transport": "slurm", "WorkRoot": "/shared/td", "SlurmOptions": ["-w", "n1"] }""");

        Assert.Contains("SlurmOptions of machine 'pool' has -w, but the machine is a pool (no Node)", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_slurm_machine_without_a_work_root_is_refused()
    {
        string message = Refused("""{ "Name": "n1", "Transport": "slurm", "Node": "n1" }""");

        Assert.Contains("WorkRoot is missing", message, StringComparison.Ordinal);
        Assert.Contains("Slurm machine 'n1' needs a directory the controller and every node share", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Harmless_options_and_a_relative_work_root_are_told_apart()
    {
        Assert.Single(Load("""{ "Name": "n1", "Transport": "slurm", "Node": "n1", "WorkRoot": "/s", "SlurmOptions": ["--qos=test", "--account", "lab", "--mem=1G"] }""").Machines);

        Assert.Contains("must be an absolute path on a file system the controller and every node share",
            Refused("""{ "Name": "n1", "Transport": "slurm", "Node": "n1", "WorkRoot": "td" }"""), StringComparison.Ordinal);
    }
}
