using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace TestDispatch.Engine.Configuration;

/// <summary>Reads keys from layered configuration, remembering which source a value came from for error messages.</summary>
internal sealed class ConfigReader(IConfigurationRoot config, List<string> errors)
{
    public string? Value(string key) => config[key];

    public void Error(string message) => errors.Add(message);

    /// <summary>" (in /path/file.json)" or " (from environment)" for the source that set <paramref name="key"/>.</summary>
    public string Where(string key) =>
        config.Providers.Reverse().FirstOrDefault(p => p.TryGet(key, out _)) is { } provider ? Describe(provider) : "";

    /// <summary>The list at <paramref name="key"/>, taken whole from the last source that sets it; null if none does.</summary>
    public ListSource? ListFrom(string key) =>
        config.Providers.Reverse().FirstOrDefault(p => p.GetChildKeys([], key).Any()) is { } provider
            ? new ListSource(provider, key)
            : null;

    public void CheckKnownKeys(string section, string[] known)
    {
        foreach (IConfigurationSection child in config.GetSection(section).GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                Error($"{section}:{child.Key}{Where(child.Path)} is not a known key; known keys there: {string.Join(", ", known)}");
            }
        }
    }

    public void CheckKnownKeys(ListSource source, string key, string[] known)
    {
        foreach (string child in source.ChildKeys())
        {
            if (!known.Contains(child, StringComparer.OrdinalIgnoreCase))
            {
                Error($"{key}:{child}{source.Where} is not a known key; known keys there: {string.Join(", ", known)}");
            }
        }
    }

    internal static string Describe(IConfigurationProvider provider) => provider switch
    {
        JsonConfigurationProvider { Source: { FileProvider: PhysicalFileProvider files, Path: { } path } } =>
            $" (in {Path.Combine(files.Root, path)})",
        JsonConfigurationProvider json => $" (in {json.Source.Path})",
        _ => $" (from environment variable {ConfigSources.EnvironmentPrefix}…)",
    };

    /// <summary>A list or object in one configuration source.</summary>
    internal sealed class ListSource(IConfigurationProvider provider, string path)
    {
        public string Where => Describe(provider);

        /// <summary>The directory of the file this came from (relative paths in it are read from there), else the current one.</summary>
        public string BaseDirectory => provider is JsonConfigurationProvider { Source.FileProvider: PhysicalFileProvider files } ? files.Root : Environment.CurrentDirectory;

        public IEnumerable<string> ChildKeys() => provider.GetChildKeys([], path).Distinct(StringComparer.OrdinalIgnoreCase);

        /// <summary>Child keys in list order (0, 1, 2, … 10), not string order.</summary>
        public IEnumerable<string> Indices => ChildKeys()
            .OrderBy(k => int.TryParse(k, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : int.MaxValue)
            .ThenBy(k => k, StringComparer.Ordinal);

        public string? Value(string child) => provider.TryGet($"{path}:{child}", out string? value) ? value : null;

        public ListSource Child(string child) => new(provider, $"{path}:{child}");

        public IReadOnlyList<string> List(string child)
        {
            ListSource list = Child(child);
            return [.. list.Indices.Select(i => list.Value(i)).OfType<string>()];
        }
    }
}
