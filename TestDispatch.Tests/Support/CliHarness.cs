using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Support;

/// <summary>Runs the real CLI in-process against a temporary state dir and config file, capturing its output.</summary>
public sealed class CliHarness : IDisposable
{
    private readonly TempDir _dir = new("testdispatch-cli-");

    public CliHarness(string? machinesJson = null)
    {
        StateDir = _dir.Combine("state");
        ConfigFile = _dir.Combine("config.json");
        File.WriteAllText(ConfigFile, $$"""
            { "TestDispatch": { "Defaults": { "AgentIdle": "5s" }, "Machines": {{machinesJson ?? """
                [ { "Name": "local-1", "Transport": "local", "Tags": ["local"] },
                  { "Name": "local-2", "Transport": "local", "Tags": ["local", "fast"] } ]
                """}} } }
            """);
    }

    public string StateDir { get; }

    public string ConfigFile { get; }

    public string Root => _dir.Path;

    public Lab OpenLab() => Lab.Open(LabConfigLoader.Load(ConfigSources.ForThisProcess(ConfigFile, StateDir)));

    public async Task<(int Exit, string Out, string Err)> Run(params string[] args)
    {
        StringWriter output = new();
        StringWriter error = new();
        int exit = await CliApp.RunAsync([.. args, "--state-dir", StateDir, "--config", ConfigFile], output, error);
        return (exit, output.ToString(), error.ToString());
    }

    public void Dispose() => _dir.Dispose();
}
