namespace TestDispatch.Engine.Configuration;

/// <summary>
/// Where configuration comes from, later ones winning (docs/DESIGN.md §9): the embedded default beside the
/// binary, the user's file, <c>--config</c>, then <c>TESTDISPATCH__…</c> environment variables.
/// </summary>
public sealed record ConfigSources
{
    public required string DefaultFile { get; init; }
    public string? UserFile { get; init; }
    public string? ExplicitFile { get; init; }
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public string? StateDirOverride { get; init; }

    public const string EnvironmentPrefix = "TESTDISPATCH__";

    /// <summary>The sources for this process, from its binary location and environment.</summary>
    public static ConfigSources ForThisProcess(string? explicitFile, string? stateDirOverride)
    {
        Dictionary<string, string> environment = [];
        foreach (System.Collections.DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        return new ConfigSources
        {
            DefaultFile = Path.Combine(AppContext.BaseDirectory, "appsettings.json"),
            UserFile = Path.Combine(ConfigHome(environment), "testdispatch", "appsettings.json"),
            ExplicitFile = explicitFile,
            Environment = environment,
            StateDirOverride = stateDirOverride,
        };
    }

    public string Home => Environment.GetValueOrDefault("HOME") is { Length: > 0 } home
        ? home
        : System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile);

    /// <summary>$XDG_STATE_HOME/testdispatch, else ~/.local/state/testdispatch.</summary>
    public string DefaultStateDir => Environment.GetValueOrDefault("XDG_STATE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)
        ? Path.Combine(xdg, "testdispatch")
        : Path.Combine(Home, ".local", "state", "testdispatch");

    private static string ConfigHome(Dictionary<string, string> environment) =>
        environment.GetValueOrDefault("XDG_CONFIG_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(environment.GetValueOrDefault("HOME") ?? "", ".config");
}
