using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// agent.config: the configuration the running agent was started with — its fingerprint, then where it was read from — so
/// that a command with another configuration knows to hand the agent over (see AgentLauncher.HandOverAsync),
/// and doctor can say which one serves the state dir. Advice, never a lock: agent.lock stays the arbiter.
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
        File.WriteAllText(path + ".tmp", $"{fingerprint}\n{config.Source.ReplaceLineEndings(" ")}\n");
        File.SetUnixFileMode(path + ".tmp", FileModes.PrivateFile);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The running agent's configuration as its file says, or null when there is none (or it cannot be read).</summary>
    public static (string Fingerprint, string Source)? Read(string stateDir)
    {
        try
        {
            string[] lines = File.ReadAllLines(Path.Combine(stateDir, Name));
            return lines.Length >= 2 && lines[0].Length > 0 ? (lines[0], lines[1]) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
