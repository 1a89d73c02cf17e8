namespace TestDispatch.Tui.Text;

/// <summary>
/// What a user types to run this program from the shell it was started from, for hints such as "or '… run examples/pass
/// --machine local-1' in a shell": "testdispatch" only when that name on PATH is this very program (installed by
/// scripts/install.sh); else the path it was started by (a fresh clone's TestDispatch.Tui/bin/Debug/net10.0/testdispatch,
/// which 'dotnet run --project TestDispatch.Tui' starts too), relative to the working directory when it is under it.
/// </summary>
public static class Invocation
{
    private const string Name = "testdispatch";

    /// <summary>For this process.</summary>
    public static string Command { get; } = For(Environment.ProcessPath, Environment.GetCommandLineArgs(), Environment.CurrentDirectory,
        Environment.GetEnvironmentVariable("PATH"));

    /// <summary>Whether <see cref="Command"/> is the short name: else a hint says how to put it on PATH.</summary>
    public static bool OnPath => Command == Name;

    /// <param name="processPath">The running executable (the apphost, the native binary, or dotnet).</param>
    /// <param name="args">The command line; under dotnet, its first word is the program's dll.</param>
    public static string For(string? processPath, IReadOnlyList<string> args, string workingDirectory, string? path)
    {
        if (processPath is null)
        {
            return Name;
        }
        bool underDotnet = Path.GetFileNameWithoutExtension(processPath) == "dotnet";
        if (!underDotnet && Find(Name, path) is { } found && Same(found, processPath))
        {
            return Name;
        }
        return underDotnet && args is [{ Length: > 0 } dll, ..]
            ? $"dotnet {Shown(dll, workingDirectory)}"
            : Shown(processPath, workingDirectory);
    }

    private static string? Find(string program, string? path) =>
        (path ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);

    private static bool Same(string a, string b) => Real(a) == Real(b);

    private static string Real(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);
        }
        catch (IOException)
        {
            return Path.GetFullPath(path);
        }
    }

    /// <summary>A path as typed at a shell in <paramref name="workingDirectory"/>: relative when under it, quoted when it must be.</summary>
    private static string Shown(string path, string workingDirectory)
    {
        string full = Path.GetFullPath(path);
        string relative = Path.GetRelativePath(workingDirectory, full);
        string shown = relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? full
            : relative.Contains('/', StringComparison.Ordinal) ? relative : $"./{relative}";
        return shown.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' or '$' or '`' or '\\') ? $"'{shown.Replace("'", "'\\''", StringComparison.Ordinal)}'" : shown;
    }
}
