using System.IO.Abstractions;
using System.Text.Json;
using System.Text.Json.Serialization;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Engine.Runs;

/// <summary>
/// <c>testdispatch.json</c> in a test directory: how that test wants to be run, e.g.
/// <c>{ "command": ["make", "check"], "timeout": "10m", "results": ["build/test-results/**/*.xml"] }</c>. Every field is
/// optional; a dispatch's own <c>--command</c>/<c>--timeout</c> win over it, and it wins over the configuration's defaults.
/// </summary>
public sealed record TestManifest(IReadOnlyList<string>? Command, TimeSpan? Timeout)
{
    public const string FileName = "testdispatch.json";

    /// <summary>
    /// Glob patterns of the JUnit XML reports the test writes in its work dir, relative to it ("**" for any depth);
    /// read with those under its artifacts once the run is over. Empty when it names none.
    /// </summary>
    public IReadOnlyList<string> Results { get; init; } = [];

    /// <summary>The manifest in <paramref name="testDir"/>, or null when it has none. Bad content is refused naming the file and the fix.</summary>
    public static TestManifest? Read(IFileSystem fs, string testDir)
    {
        string path = fs.Path.Combine(testDir, FileName);
        if (!fs.File.Exists(path))
        {
            return null;
        }
        ManifestJson? json;
        try
        {
            using Stream stream = fs.File.OpenRead(path);
            json = JsonSerializer.Deserialize(stream, ManifestJsonContext.Default.ManifestJson);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"is not valid JSON (line {e.LineNumber + 1}): {e.Message}");
        }
        if (json is null)
        {
            throw Bad(path, "is empty");
        }
        if (json.Command is { } command && (command.Count == 0 || string.IsNullOrWhiteSpace(command[0])))
        {
            throw Bad(path, "has an empty \"command\"; give the program and its arguments, e.g. [\"./run.sh\", \"--fast\"]");
        }
        TimeSpan? timeout = null;
        if (json.Timeout is { } text)
        {
            timeout = Duration.ParseTimeLimit(text, "\"timeout\"", out string? problem) ?? throw Bad(path, $"has {problem}");
        }
        if (json.Results?.FirstOrDefault(p => string.IsNullOrWhiteSpace(p) || p.StartsWith('/') || p.Split('/').Contains("..")) is { } bad)
        {
            throw Bad(path, $"has \"results\" pattern '{bad}', which is not a path inside the test's work dir; give one such as \"build/**/*.xml\"");
        }
        return new TestManifest(json.Command, timeout) { Results = json.Results ?? [] };
    }

    private static DispatchException Bad(string path, string problem) =>
        new(ErrorCodes.BadInput, $"test manifest {path} {problem}");
}

internal sealed record ManifestJson(
    [property: JsonPropertyName("command")] IReadOnlyList<string>? Command,
    [property: JsonPropertyName("timeout")] string? Timeout,
    [property: JsonPropertyName("results")] IReadOnlyList<string>? Results = null);

[JsonSourceGenerationOptions(UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(ManifestJson))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
