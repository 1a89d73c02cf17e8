namespace TestDispatch.Engine.Transports;

/// <summary>
/// Checks before starting that a test command names a program that exists and is executable, so a
/// typo is reported as spawn_failed naming the program, not as the test failing with exit 1 or 127.
/// </summary>
public static class CommandResolver
{
    /// <summary>Null when the program can be started; else a message saying what is wrong and how to fix it.</summary>
    public static string? Check(IReadOnlyList<string> command, string workDir, IReadOnlyDictionary<string, string> environment)
    {
        if (command.Count == 0 || string.IsNullOrWhiteSpace(command[0]))
        {
            return "the test command is empty; set Defaults.Command or pass --command";
        }
        string program = command[0];
        if (program.Contains('/', StringComparison.Ordinal))
        {
            string path = Path.GetFullPath(program, workDir);
            return !File.Exists(path)
                ? $"command '{program}' not found in the test directory (looked for {path}); add it or pass --command"
                : !IsExecutable(path)
                    ? $"command '{program}' is not executable; run 'chmod +x {program}' in the test directory"
                    : null;
        }
        string searchPath = environment.GetValueOrDefault("PATH") ?? Environment.GetEnvironmentVariable("PATH") ?? "";
        bool found = searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .Any(path => File.Exists(path) && IsExecutable(path));
        return found ? null : $"command '{program}' is not on PATH; install it or give its path";
    }

    private static bool IsExecutable(string path) =>
        (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
