using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;

namespace TestDispatch.Tui.Cli;

/// <summary>Options every command takes, and opening the lab they point at.</summary>
public sealed class GlobalOptions
{
    public Option<string?> StateDir { get; } = new("--state-dir")
    {
        Description = "State directory (default: $XDG_STATE_HOME/testdispatch or ~/.local/state/testdispatch)",
        Recursive = true,
    };

    public Option<string?> Config { get; } = new("--config")
    {
        Description = "Extra configuration file, layered over the default and the user's",
        Recursive = true,
    };

    public LabConfig LoadConfig(ParseResult parse) =>
        LabConfigLoader.Load(ConfigSources.ForThisProcess(parse.GetValue(Config), parse.GetValue(StateDir)));

    public Lab OpenLab(ParseResult parse) => Lab.Open(LoadConfig(parse));

    public static Option<bool> Json() => new("--json") { Description = "Print the JSON contract instead of text" };
}
