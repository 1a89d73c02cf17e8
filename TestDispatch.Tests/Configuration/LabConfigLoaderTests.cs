using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Configuration;

[Trait("Category", "Unit")]
public sealed class LabConfigLoaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    private const string TwoLocal = """
        { "TestDispatch": { "Machines": [
            { "Name": "local-1", "Transport": "local", "Tags": ["local"] },
            { "Name": "local-2", "Transport": "local" } ] } }
        """;

    public void Dispose() => _dir.Dispose();

    private string Write(string name, string json)
    {
        string path = _dir.Combine(name);
        File.WriteAllText(path, json);
        return path;
    }

    private ConfigSources Sources(string defaults, string? user = null, string? explicitFile = null, Dictionary<string, string>? env = null) => new()
    {
        DefaultFile = Write("default.json", defaults),
        UserFile = user is null ? _dir.Combine("no-user.json") : Write("user.json", user),
        ExplicitFile = explicitFile,
        Environment = env ?? new Dictionary<string, string> { ["HOME"] = "/home/lab" },
    };

    private DispatchException Invalid(string json)
    {
        DispatchException error = Assert.Throws<DispatchException>(() => LabConfigLoader.Load(Sources(json)));
        Assert.Equal(ErrorCodes.ConfigInvalid, error.ErrorCode);
        return error;
    }

    [Fact]
    public void The_embedded_default_config_loads_with_two_local_machines()
    {
        string repoDefault = Path.Combine(AppContext.BaseDirectory, "appsettings.json");

        LabConfig config = LabConfigLoader.Load(new ConfigSources { DefaultFile = repoDefault });

        Assert.Equal(2, config.Machines.Count);
        Assert.All(config.Machines, m => Assert.Equal(TransportKind.Local, m.Transport));
        Assert.Equal(["./run.sh"], config.Defaults.Command);
        Assert.Equal(TimeSpan.FromMinutes(30), config.Defaults.Timeout);
    }

    [Fact]
    public void Defaults_apply_and_the_state_dir_follows_xdg()
    {
        LabConfig config = LabConfigLoader.Load(Sources(TwoLocal, env: new() { ["HOME"] = "/home/lab", ["XDG_STATE_HOME"] = "/xdg/state" }));

        Assert.Equal("/xdg/state/testdispatch", config.StateDir);
        Assert.Equal(TimeSpan.FromMinutes(2), config.Defaults.AgentIdle);
        Assert.Equal(["local"], config.Machines[0].Tags);
    }

    [Fact]
    public void Without_xdg_the_state_dir_is_under_the_home_directory()
    {
        LabConfig config = LabConfigLoader.Load(Sources(TwoLocal));

        Assert.Equal("/home/lab/.local/state/testdispatch", config.StateDir);
    }

    [Fact]
    public void Later_sources_win_and_replace_lists_whole()
    {
        string user = """
            { "TestDispatch": { "StateDir": "~/lab-state", "Defaults": { "Command": ["make", "test"], "Timeout": "90s" },
              "Machines": [ { "Name": "rig-07", "Transport": "ssh", "Host": "rig-07.lab", "Port": 2222, "Tags": ["x86"] } ] } }
            """;
        string explicitFile = Write("explicit.json", """{ "TestDispatch": { "Defaults": { "AgentIdle": "5m" } } }""");
        Dictionary<string, string> env = new() { ["HOME"] = "/home/lab", ["TESTDISPATCH__Defaults__Timeout"] = "00:10:00" };

        LabConfig config = LabConfigLoader.Load(Sources(TwoLocal, user, explicitFile, env));

        Machine rig = Assert.Single(config.Machines);
        Assert.Equal(("rig-07", TransportKind.Ssh, "rig-07.lab", 2222), (rig.Name, rig.Transport, rig.Host, rig.Port));
        Assert.Equal(["x86"], rig.Tags);
        Assert.Equal(["make", "test"], config.Defaults.Command);
        Assert.Equal(TimeSpan.FromMinutes(10), config.Defaults.Timeout);
        Assert.Equal(TimeSpan.FromMinutes(5), config.Defaults.AgentIdle);
        Assert.Equal("/home/lab/lab-state", config.StateDir);
    }

    [Fact]
    public void The_state_dir_option_beats_the_configuration()
    {
        ConfigSources sources = Sources("""{ "TestDispatch": { "StateDir": "/from/config", "Machines": [ { "Name": "a", "Transport": "local" } ] } }""")
            with { StateDirOverride = "/from/option" };

        Assert.Equal("/from/option", LabConfigLoader.Load(sources).StateDir);
    }

    [Fact]
    public void Duplicate_machine_names_are_refused_naming_the_key_and_the_file()
    {
        DispatchException error = Invalid("""
            { "TestDispatch": { "Machines": [ { "Name": "rig", "Transport": "local" }, { "Name": "rig", "Transport": "local" } ] } }
            """);

        Assert.Contains("TestDispatch:Machines:1:Name 'rig'", error.Message, StringComparison.Ordinal);
        Assert.Contains("duplicate", error.Message, StringComparison.Ordinal);
        Assert.Contains(_dir.Combine("default.json"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_transport_is_refused_with_the_choices()
    {
        DispatchException error = Invalid("""{ "TestDispatch": { "Machines": [ { "Name": "rig", "Transport": "telnet" } ] } }""");

        Assert.Contains("TestDispatch:Machines:0:Transport 'telnet'", error.Message, StringComparison.Ordinal);
        Assert.Contains("use \"local\", \"ssh\" or \"slurm\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_ssh_machine_without_a_host_is_refused()
    {
        DispatchException error = Invalid("""{ "TestDispatch": { "Machines": [ { "Name": "rig-07", "Transport": "ssh" } ] } }""");

        Assert.Contains("TestDispatch:Machines:0:Host is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("rig-07", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00:00:00", "must be more than zero")]
    [InlineData("-5m", "must be more than zero")]
    [InlineData("soon", "is not a duration")]
    [InlineData("90", "is not a duration")]
    public void A_bad_timeout_is_refused_naming_the_value_and_the_fix(string timeout, string expected)
    {
        DispatchException error = Invalid($$"""
            { "TestDispatch": { "Defaults": { "Timeout": "{{timeout}}" }, "Machines": [ { "Name": "a", "Transport": "local" } ] } }
            """);

        Assert.Contains($"TestDispatch:Defaults:Timeout '{timeout}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        DispatchException error = Invalid("""
            { "TestDispatch": { "Defaults": { "Timeout": "0s" },
              "Machines": [ { "Name": "a", "Transport": "ftp" }, { "Name": "b", "Transport": "ssh", "Port": 70000 } ] } }
            """);

        Assert.Contains("Timeout", error.Message, StringComparison.Ordinal);
        Assert.Contains("'ftp'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Host is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("Port '70000'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_misspelt_key_is_refused_rather_than_ignored()
    {
        DispatchException error = Invalid("""{ "TestDispatch": { "Defaults": { "Comand": ["x"] }, "Machines": [ { "Name": "a", "Transport": "local" } ] } }""");

        Assert.Contains("TestDispatch:Defaults:Comand", error.Message, StringComparison.Ordinal);
        Assert.Contains("known keys there: Command, Timeout, AgentIdle, KillGrace", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_json_names_the_file()
    {
        DispatchException error = Invalid("""{ "TestDispatch": { "Machines": [ """);

        Assert.Contains("default.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_without_the_TestDispatch_object_is_refused_naming_the_file_the_keys_and_the_fix()
    {
        string user = """{ "Machines": [ { "Name": "rig-3", "Transport": "local" } ], "Defaults": { "Timeout": "bogus" } }""";

        DispatchException error = Assert.Throws<DispatchException>(() => LabConfigLoader.Load(Sources(TwoLocal, user)));

        Assert.Equal(ErrorCodes.ConfigInvalid, error.ErrorCode);
        Assert.Contains($"config file {_dir.Combine("user.json")}: top-level keys 'Machines', 'Defaults' are not known, so nothing in the file would be read",
            error.Message, StringComparison.Ordinal);
        Assert.Contains("""wrap the file's content as { "TestDispatch": { "Machines": …, "Defaults": … } }""", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stray_top_level_key_beside_TestDispatch_is_refused_saying_to_move_it_in()
    {
        string explicitFile = Write("explicit.json", """{ "TestDispatch": { "Defaults": { "AgentIdle": "5m" } }, "Health": { "CheckAfter": "1m" } }""");

        DispatchException error = Assert.Throws<DispatchException>(() => LabConfigLoader.Load(Sources(TwoLocal, explicitFile: explicitFile)));

        Assert.Contains($"config file {explicitFile}: top-level key 'Health' is not known and would be ignored", error.Message, StringComparison.Ordinal);
        Assert.Contains("""move it there, as { "TestDispatch": { "Health": … } }""", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_cut_short_names_its_line_and_position()
    {
        DispatchException error = Invalid("{\n  \"TestDispatch\": {\n    \"Machines\": [ { \"Name\": \"a\", \"Transport\": \"local\" }\n");

        Assert.Contains($"config file {_dir.Combine("default.json")} is not valid JSON at line 4, position 1: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("..", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"  \"")]
    public void An_empty_or_blank_tag_is_refused(string tag)
    {
        DispatchException error = Invalid($$"""{ "TestDispatch": { "Machines": [ { "Name": "rig", "Transport": "local", "Tags": ["x86", {{tag}}] } ] } }""");

        Assert.Contains("TestDispatch:Machines:0:Tags", error.Message, StringComparison.Ordinal);
        Assert.Contains("has an empty tag", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_explicit_config_file_is_refused()
    {
        DispatchException error = Assert.Throws<DispatchException>(() =>
            LabConfigLoader.Load(Sources(TwoLocal, explicitFile: _dir.Combine("nope.json"))));

        Assert.Contains("nope.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("--config", error.Message, StringComparison.Ordinal);
    }
}
