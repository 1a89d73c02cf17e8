using System.Text.Json;
using System.Text.RegularExpressions;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Engine.Configuration;

/// <summary>
/// One configuration file read as the JSON configuration provider reads it (comments and trailing commas allowed), before
/// it is layered: broken JSON stops the load naming the file, line and position; a key at the top other than the root
/// section is a problem naming the file and the key (such a file is otherwise read as holding no setting at all).
/// </summary>
internal static partial class ConfigFile
{
    private static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>The problems of the file at <paramref name="path"/> (an absolute path); throws config_invalid when it cannot be read as JSON.</summary>
    public static IReadOnlyList<string> Problems(string path, string root)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            using JsonDocument document = JsonDocument.Parse(stream, Options);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return [$"config file {path} holds a JSON {document.RootElement.ValueKind.ToString().ToLowerInvariant()}, not an object; write {{ \"{root}\": {{ … }} }}"];
            }
            string[] unknown = [.. document.RootElement.EnumerateObject().Select(p => p.Name).Where(n => !string.Equals(n, root, StringComparison.OrdinalIgnoreCase))];
            if (unknown.Length == 0)
            {
                return [];
            }
            string keys = $"{(unknown.Length == 1 ? "key" : "keys")} {string.Join(", ", unknown.Select(k => $"'{k}'"))} {(unknown.Length == 1 ? "is" : "are")} not known";
            string wrapped = $"{{ \"{root}\": {{ {string.Join(", ", unknown.Select(k => $"\"{k}\": …"))} }} }}";
            return [unknown.Length < document.RootElement.EnumerateObject().Count()
                ? $"config file {path}: top-level {keys} and would be ignored; every setting goes inside \"{root}\": move {(unknown.Length == 1 ? "it" : "them")} there, as {wrapped}"
                : $"config file {path}: top-level {keys}, so nothing in the file would be read; every setting goes inside \"{root}\": wrap the file's content as {wrapped}"];
        }
        catch (JsonException e)
        {
            string what = JsonPosition().Replace(e.Message, "").TrimEnd().TrimEnd('.');
            throw new DispatchException(ErrorCodes.ConfigInvalid,
                $"config file {path} is not valid JSON at line {(e.LineNumber ?? 0) + 1}, position {(e.BytePositionInLine ?? 0) + 1}: {what}. " +
                "Fix the JSON syntax there (a file cut short ends before its last object or list is closed).", inner: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DispatchException(ErrorCodes.ConfigInvalid, $"config file {path} cannot be read: {e.Message}", inner: e);
        }
    }

    [GeneratedRegex(@"\s*(Path: \S+ \|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?")]
    private static partial Regex JsonPosition();
}
