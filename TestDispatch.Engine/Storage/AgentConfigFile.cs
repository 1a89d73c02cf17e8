using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// agent.config: the configuration the running agent was started with — its fingerprint, where it was read from, then the
/// names of the machines it knows, one a line — so that a command giving it a batch for machines it does not know hands it
/// over (see AgentLauncher.HandOverAsync), and doctor can say which configuration serves the state dir. Advice, never a
/// lock: agent.lock stays the arbiter.
/// </summary>
public static class AgentConfigFile
{
    public const string Name = "agent.config";

    /// <summary>Writes the file for <paramref name="config"/> (removes it for a configuration made in code).</summary>
    public static void Write(string stateDir, LabConfig config)
    {
        string path = Path.Combine(stateDir, Name);
        if (config.Fingerprint is not { } fingerprint)
        {
            File.Delete(path);
            return;
        }
        File.WriteAllLines(path + ".tmp", [fingerprint, config.Source.ReplaceLineEndings(" "), .. config.Machines.Select(m => m.Name)]);
        File.SetUnixFileMode(path + ".tmp", FileModes.PrivateFile);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The running agent's configuration as its file says, or null when there is none (or it cannot be read).</summary>
    public static ServingConfig? Read(string stateDir)
    {
        try
        {
            string[] lines = File.ReadAllLines(Path.Combine(stateDir, Name));
            return lines.Length >= 2 && lines[0].Length > 0 ? new ServingConfig(lines[0], lines[1], lines.Skip(2).ToHashSet(StringComparer.Ordinal)) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>What agent.config says of the configuration the running agent has.</summary>
public sealed record ServingConfig(string Fingerprint, string Source, IReadOnlySet<string> Machines);
