using CliWrap;
using CliWrap.Buffered;

namespace TestDispatch.Tests.Support;

/// <summary>
/// The real programs that write JUnit XML (pytest, ctest), run for real. A missing one fails its test with the
/// package to install, never skips it: CI installs them (.ci/run).
/// </summary>
public static class Producers
{
    /// <summary>The first of <paramref name="names"/> on PATH.</summary>
    public static string Find(string package, params string[] names)
    {
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (string name in names)
        {
            foreach (string dir in path)
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        throw new InvalidOperationException(
            $"{names[0]} is not installed, so this test cannot make a real report: run 'apt-get install -y {package}' (.ci/run installs it).");
    }

    /// <summary>Runs a producer to its end (a failing test's non-zero exit is expected), within two minutes.</summary>
    public static async Task<BufferedCommandResult> Run(string program, string workDir, params IReadOnlyList<string> arguments)
    {
        using CancellationTokenSource deadline = new(TimeSpan.FromMinutes(2));
        return await Cli.Wrap(program)
            .WithArguments(arguments)
            .WithWorkingDirectory(workDir)
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(deadline.Token);
    }
}
