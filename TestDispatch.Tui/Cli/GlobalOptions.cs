using System.CommandLine;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>Options every command takes, and opening the lab they point at.</summary>
public sealed class GlobalOptions(CliConsole console)
{
    public CliConsole Console => console;

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

    /// <summary>Opens the lab; an agent it starts gets the same configuration file.</summary>
    public Lab OpenLab(ParseResult parse)
    {
        string? configFile = parse.GetValue(Config) is { } file ? Path.GetFullPath(file) : null;
        Lab lab = Lab.Open(LoadConfig(parse), console.Program, configFile is null ? [] : ["--config", configFile]);
        if (lab.StateDirTightenedFrom is { } was)
        {
            console.Error.WriteLine($"testdispatch: the state dir {lab.StateDir} was readable by other users (mode {Format.Mode(was)}); " +
                "it is now 0700, as it must be");
        }
        return lab;
    }

    public static Option<bool> Json() => new("--json") { Description = "Print the JSON contract instead of text" };
}
