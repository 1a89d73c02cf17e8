using System.IO.Abstractions;
using System.Text.Json;
using System.Text.Unicode;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Batches;

/// <summary>
/// A plan file (docs/DESIGN.md §8), read and checked whole before anything is stored: every problem is reported at once,
/// naming the file, the entry and the field, with the fix (docs/DESIGN.md §4.5). Test dirs are relative to the plan's folder.
/// <code>
/// { "name": "nightly",
///   "entries": [
///     { "name": "boot", "test_dir": "boot", "machine": "rig-07" },
///     { "name": "gpu", "test_dir": "gpu", "tags": ["x86", "gpu"], "command": ["./run.sh", "--long"], "timeout": "20m", "retries": 2 } ] }
/// </code>
/// </summary>
public static class PlanFile
{
    public const int MaxRetries = 10;
    private static readonly string[] TopKeys = ["name", "order", "entries"];
    private static readonly string[] EntryKeys = ["name", "test_dir", "machine", "tags", "command", "timeout", "retries"];

    /// <summary>
    /// The plan's batch name, its entries resolved (absolute test dir, hash, command, time limit), and whether it asks for
    /// plan order (<c>"order": "plan"</c>) rather than the default, longest first (<c>"order": "longest"</c>).
    /// </summary>
    public static (string Name, IReadOnlyList<BatchEntry> Entries, bool InPlanOrder) Read(IFileSystem fs, string path, LabConfig config)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new DispatchException(ErrorCodes.PlanInvalid, "the plan file's path is empty; give the path of a plan JSON file");
        }
        string full = fs.Path.GetFullPath(path);
        if (fs.Directory.Exists(full))
        {
            throw new DispatchException(ErrorCodes.PlanInvalid, $"plan file {path} is a directory; give the path of a plan JSON file in it");
        }
        if (!fs.File.Exists(full))
        {
            throw new DispatchException(ErrorCodes.PlanInvalid,
                $"plan file {path} does not exist{(full != path ? $" (resolved to {full})" : "")}; give the path of a plan JSON file");
        }
        byte[] bytes = fs.File.ReadAllBytes(full);
        if (!Utf8.IsValid(bytes))
        {
            int bad = FirstInvalidUtf8(bytes);
            throw new DispatchException(ErrorCodes.PlanInvalid,
                $"plan file {path} is not UTF-8 text: byte {bad + 1} (line {bytes.AsSpan(0, bad).Count((byte)'\n') + 1}) is not valid UTF-8; save it as UTF-8");
        }
        List<string> problems = [];
        string name = fs.Path.GetFileNameWithoutExtension(full);
        bool inPlanOrder = false;
        List<BatchEntry> entries = [];
        try
        {
            // The plan is read as it goes, each entry a small document of its own: a JsonDocument of the whole plan
            // rents its token index from the shared pool (about 7 MiB for 20,000 entries), which keeps it once it is
            // given back, in a client that may then wait hours for the batch.
            ReadOnlySpan<byte> json = bytes.AsSpan().StartsWith(Utf8Bom) ? bytes.AsSpan(Utf8Bom.Length) : bytes; // as editors on Windows save
            Utf8JsonReader reader = new(json, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                reader.Read(); // anything after the value is a syntax error, which comes first
                throw Invalid(path, ["the plan must be a JSON object: { \"name\": \"...\", \"entries\": [ ... ] }"]);
            }
            bool sawEntries = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("name"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && reader.GetString()!.Trim() is { Length: > 0 } given)
                    {
                        name = given;
                    }
                    else
                    {
                        reader.Skip();
                        problems.Add("name: must be a non-empty string, e.g. \"nightly\" (or leave it out to use the file name)");
                    }
                }
                else if (reader.ValueTextEquals("order"u8))
                {
                    reader.Read();
                    string? order = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    if (order is "plan" or "longest")
                    {
                        inPlanOrder = order == "plan";
                    }
                    else
                    {
                        reader.Skip();
                        problems.Add("order: must be \"longest\" (the default: longest expected first, by the recent runs of each test dir) " +
                            "or \"plan\" (the entries in the order the plan lists them)");
                    }
                }
                else if (reader.ValueTextEquals("entries"u8) && !sawEntries)
                {
                    sawEntries = true;
                    reader.Read();
                    ReadEntries(fs, ref reader, fs.Path.GetDirectoryName(full)!, config, entries, problems);
                }
                else
                {
                    string key = reader.GetString()!;
                    problems.Add(key == "entries"
                        ? "entries: given twice; put every entry in one list"
                        : $"{Where.Plan}: unknown field '{key}'; the fields are {string.Join(", ", TopKeys)}");
                    reader.Read();
                    reader.Skip();
                }
            }
            reader.Read(); // anything but comments after the plan's object is a syntax error
            if (!sawEntries)
            {
                problems.Add(NoEntries);
            }
        }
        catch (JsonException e)
        {
            throw new DispatchException(ErrorCodes.PlanInvalid,
                $"plan file {path} is not valid JSON at line {e.LineNumber + 1}, column {e.BytePositionInLine + 1}: {FirstSentence(e.Message)}");
        }
        catch (InvalidOperationException e) when (e.Message.Contains("surrogate", StringComparison.OrdinalIgnoreCase))
        {
            // Valid UTF-8 can still spell text that is not: a \ud800 escape without its pair.
            throw new DispatchException(ErrorCodes.PlanInvalid, $"plan file {path} holds a string that is not text: {FirstSentence(e.Message)}");
        }
        return problems.Count > 0 ? throw Invalid(path, problems) : (name, entries, inPlanOrder);
    }

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>The offset of the first byte that is not valid UTF-8.</summary>
    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        Utf8.ToUtf16(bytes, new char[bytes.Length], out int read, out _, replaceInvalidSequences: false);
        return read;
    }

    private const string NoEntries =
        "entries: must be a non-empty list of entries, each like { \"name\": \"boot\", \"test_dir\": \"boot\", \"machine\": \"rig-07\" }";

    /// <summary>The entries list, the reader on its first token; each entry is checked as it is read.</summary>
    private static void ReadEntries(IFileSystem fs, ref Utf8JsonReader reader, string baseDir, LabConfig config, List<BatchEntry> entries,
        List<string> problems)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            problems.Add(NoEntries);
            return;
        }
        Dictionary<string, int> seen = new(StringComparer.Ordinal);
        Shared shared = new();
        int index = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            using JsonDocument one = JsonDocument.ParseValue(ref reader);
            // The name is checked whatever else is wrong with either entry: a plan with many mistakes tells this one too.
            BatchEntry? entry = ReadEntry(fs, one.RootElement, new Where(index), baseDir, config, shared, problems, out string? name);
            if (name is not null && seen.TryGetValue(name, out int first))
            {
                problems.Add($"entries[{index}]: name '{name}' is already the name of entries[{first}]; names must be unique in a plan (set \"name\" on one of them)");
            }
            else
            {
                if (name is not null)
                {
                    seen[name] = index;
                }
                if (entry is not null)
                {
                    entries.Add(entry);
                }
            }
            index++;
        }
        if (index == 0)
        {
            problems.Add(NoEntries);
        }
    }

    /// <param name="entryName">The entry's name, given or its test dir's, when it has one, even if the entry has problems.</param>
    private static BatchEntry? ReadEntry(IFileSystem fs, JsonElement element, Where where, string baseDir, LabConfig config, Shared shared,
        List<string> problems, out string? entryName)
    {
        entryName = null;
        if (element.ValueKind != JsonValueKind.Object)
        {
            problems.Add($"{where}: must be an object like {{ \"name\": \"boot\", \"test_dir\": \"boot\", \"machine\": \"rig-07\" }}");
            return null;
        }
        int before = problems.Count;
        string? name = OptionalString(element, "name", where, problems);
        if (name is not null)
        {
            where = where with { Name = name };
            entryName = name;
        }
        UnknownKeys(element, EntryKeys, where, problems);

        string? testDir = OptionalString(element, "test_dir", where, problems, same: shared.LastTestDir);
        string? directory = null;
        if (testDir is null)
        {
            if (!element.TryGetProperty("test_dir", out _))
            {
                problems.Add($"{where}: test_dir is missing; give the test's folder, relative to the plan file");
            }
        }
        else
        {
            shared.LastTestDir = testDir;
            (directory, bool exists) = shared.Resolve(fs, testDir, baseDir);
            entryName ??= element.TryGetProperty("name", out _) ? null : fs.Path.GetFileName(directory);
            if (!exists)
            {
                problems.Add($"{where}: test_dir '{testDir}' does not exist (resolved to {directory}); paths are relative to the plan file's folder");
                directory = null;
            }
        }

        string? machine = OptionalString(element, "machine", where, problems);
        IReadOnlyList<string>? tags = OptionalStrings(element, "tags", where, problems, same: shared.LastTags);
        if (tags is not null && tags.Any(string.IsNullOrWhiteSpace))
        {
            problems.Add($"{where}: tags {element.GetProperty("tags").GetRawText()} has a blank tag; every tag is a word, e.g. [\"x86\"]");
            tags = null;
        }
        if (tags is not null)
        {
            shared.LastTags = tags;
        }
        if (machine is not null && tags is not null)
        {
            problems.Add($"{where}: give either machine or tags, not both");
        }
        else if (machine is null && tags is null && !element.TryGetProperty("machine", out _) && !element.TryGetProperty("tags", out _))
        {
            problems.Add($"{where}: no target; add \"machine\": \"NAME\" or \"tags\": [\"TAG\", ...]");
        }
        else if (machine is not null && config.FindMachine(machine) is { CanRunTests: false } remote)
        {
            problems.Add($"{where}: {remote.WhyNotRunnable}");
        }
        else if (machine is not null && config.FindMachine(machine) is null)
        {
            problems.Add($"{where}: machine '{machine}' is not configured; configured machines: {string.Join(", ", config.Machines.Select(m => m.Name))}");
        }
        else if (tags is not null && !shared.SomeMachineHasAll(tags, config))
        {
            problems.Add($"{where}: no configured machine that can run tests has all of the tags {string.Join(", ", tags)}; machines' tags: " +
                string.Join("; ", config.Machines.Select(m =>
                    $"{m.Name}{(m.CanRunTests ? "" : " (ssh, cannot run tests yet)")}: {(m.Tags.Count == 0 ? "none" : string.Join(",", m.Tags))}")));
        }

        IReadOnlyList<string>? command = null;
        if (element.TryGetProperty("command", out JsonElement commandElement) && commandElement.ValueKind == JsonValueKind.String)
        {
            problems.Add($"{where}: command must be a list of arguments like [\"./run.sh\", \"--fast\"], not one string (no shell is involved)");
        }
        else
        {
            command = OptionalStrings(element, "command", where, problems);
        }

        TimeSpan? timeout = null;
        if (element.TryGetProperty("timeout", out JsonElement timeoutElement))
        {
            if (timeoutElement.ValueKind != JsonValueKind.String)
            {
                problems.Add($"{where}: timeout {timeoutElement.GetRawText()} is not a positive duration; {Duration.Help}");
            }
            else if (Duration.ParseTimeLimit(timeoutElement.GetString(), "timeout", out string? problem) is { } t)
            {
                timeout = t;
            }
            else
            {
                problems.Add($"{where}: {problem}");
            }
        }

        int retries = 0;
        if (element.TryGetProperty("retries", out JsonElement retriesElement) &&
            !(retriesElement.ValueKind == JsonValueKind.Number && retriesElement.TryGetInt32(out retries) && retries is >= 0 and <= MaxRetries))
        {
            problems.Add($"{where}: retries {retriesElement.GetRawText()} must be a whole number from 0 to {MaxRetries} (retries are for infrastructure failures only)");
        }

        if (directory is null || problems.Count > before)
        {
            return null;
        }
        try
        {
            (string dir, string hash, TestManifest? manifest) = shared.TestDir(fs, directory);
            return new BatchEntry
            {
                Name = name ?? fs.Path.GetFileName(directory),
                TestDir = dir,
                TestDirHash = hash,
                Machine = machine,
                Tags = tags ?? [],
                Spec = shared.Spec(command ?? manifest?.Command ?? config.Defaults.Command, timeout ?? manifest?.Timeout ?? config.Defaults.Timeout, config),
                Retries = retries,
            };
        }
        catch (DispatchException e)
        {
            problems.Add($"{where}: {e.Message}");
            return null;
        }
    }

    /// <summary>Where in the plan a problem is ("entries[3] ('boot')"), made into words only for a problem.</summary>
    private readonly record struct Where(int Index, string? Name = null)
    {
        public static readonly Where Plan = new(-1);

        public override string ToString() =>
            Index < 0 ? "the plan" : Name is null ? $"entries[{Index}]" : $"entries[{Index}] ('{Name}')";
    }

    /// <summary>
    /// What entries of one plan have in common, worked out once: a plan of 20,000 entries of one test dir hashed it
    /// 20,000 times, and held 20,000 copies of its path, hash, tags and spec. A value equal to the previous entry's is
    /// that one (the reading compares the JSON with it before making a string), so a long plan reads in little garbage.
    /// </summary>
    private sealed class Shared
    {
        private readonly Dictionary<string, (string Dir, bool Exists)> _resolved = new(StringComparer.Ordinal);
        private readonly Dictionary<string, (string Dir, string Hash, TestManifest? Manifest)> _dirs = new(StringComparer.Ordinal);
        private RunSpec? _spec;
        private (IReadOnlyList<string> Tags, bool Found)? _tagsChecked;

        public string? LastTestDir { get; set; }

        public IReadOnlyList<string>? LastTags { get; set; }

        /// <summary>Whether a configured machine that can run tests has all of <paramref name="tags"/>.</summary>
        public bool SomeMachineHasAll(IReadOnlyList<string> tags, LabConfig config)
        {
            if (_tagsChecked is not { } known || !ReferenceEquals(known.Tags, tags))
            {
                _tagsChecked = known = (tags, config.Machines.Any(m => m.CanRunTests && tags.All(m.Tags.Contains)));
            }
            return known.Found;
        }

        /// <summary>A test_dir as written, made absolute against the plan's folder, and whether it is a directory.</summary>
        public (string Dir, bool Exists) Resolve(IFileSystem fs, string testDir, string baseDir)
        {
            if (!_resolved.TryGetValue(testDir, out var resolved))
            {
                string dir = Path.TrimEndingDirectorySeparator(fs.Path.GetFullPath(testDir, baseDir));
                resolved = (dir, fs.Directory.Exists(dir));
                _resolved[testDir] = resolved;
            }
            return resolved;
        }

        public (string Dir, string Hash, TestManifest? Manifest) TestDir(IFileSystem fs, string directory)
        {
            if (!_dirs.TryGetValue(directory, out var known))
            {
                known = (directory, TestDirHasher.Compute(fs, directory), TestManifest.Read(fs, directory));
                _dirs[directory] = known;
            }
            return known;
        }

        public RunSpec Spec(IReadOnlyList<string> command, TimeSpan timeout, LabConfig config) =>
            _spec is { } last && last.Timeout == timeout && (ReferenceEquals(last.Command, command) || last.Command.SequenceEqual(command))
                ? last
                : _spec = new RunSpec(command, timeout) { Settings = _settings ??= config.RunSettings };

        private RunSettings? _settings;
    }

    private static string FirstSentence(string message) => message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0].TrimEnd();

    private static void UnknownKeys(JsonElement element, string[] known, Where where, List<string> problems)
    {
        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (IsOneOf(property, known))
            {
                continue;
            }
            problems.Add($"{where}: unknown field '{property.Name}'; the fields are {string.Join(", ", known)}");
        }
    }

    private static bool IsOneOf(JsonProperty property, string[] names)
    {
        foreach (string name in names)
        {
            if (property.NameEquals(name))
            {
                return true;
            }
        }
        return false;
    }

    /// <param name="same">A value this one may equal (the previous entry's), returned instead of a new string if it does.</param>
    private static string? OptionalString(JsonElement element, string key, Where where, List<string> problems, string? same = null)
    {
        if (!element.TryGetProperty(key, out JsonElement value))
        {
            return null;
        }
        if (same is not null && value.ValueKind == JsonValueKind.String && value.ValueEquals(same))
        {
            return same;
        }
        if (value.ValueKind == JsonValueKind.String && value.GetString() is { } text && text.Trim().Length > 0)
        {
            return text;
        }
        problems.Add($"{where}: {key} must be a non-empty string, not {value.GetRawText()}");
        return null;
    }

    /// <param name="same">A list this one may equal (the previous entry's), returned instead of a new one if it does.</param>
    private static IReadOnlyList<string>? OptionalStrings(JsonElement element, string key, Where where, List<string> problems,
        IReadOnlyList<string>? same = null)
    {
        if (!element.TryGetProperty(key, out JsonElement value))
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() is > 0 and int count)
        {
            if (same is not null && Equal(value, same))
            {
                return same;
            }
            string[] strings = new string[count];
            int i = 0;
            foreach (JsonElement item in value.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 } text)
                {
                    break;
                }
                strings[i++] = text;
            }
            if (i == count)
            {
                return strings;
            }
        }
        problems.Add($"{where}: {key} must be a non-empty list of non-empty strings, not {value.GetRawText()}");
        return null;
    }

    private static bool Equal(JsonElement array, IReadOnlyList<string> strings)
    {
        if (array.GetArrayLength() != strings.Count)
        {
            return false;
        }
        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || !item.ValueEquals(strings[i++]))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>How many of a plan's problems the error lists: a plan generated with one mistake has it in every entry.</summary>
    internal const int ProblemsListed = 20;

    private static DispatchException Invalid(string path, List<string> problems) => new(ErrorCodes.PlanInvalid,
        $"plan file {path} has {problems.Count} problem{(problems.Count == 1 ? "" : "s")}; nothing was submitted:" +
        string.Concat(problems.Take(ProblemsListed).Select(p => $"{Environment.NewLine}  - {p}")) +
        (problems.Count > ProblemsListed
            ? $"{Environment.NewLine}  - and {problems.Count - ProblemsListed} more; {Others(problems.Skip(ProblemsListed))}"
            : ""));

    /// <summary>What the problems not listed are about, when they are all of one kind; else how to see them.</summary>
    private static string Others(IEnumerable<string> rest)
    {
        string[] kinds = [.. rest.Select(p => p[(p.IndexOf(": ", StringComparison.Ordinal) + 2)..]).Distinct(StringComparer.Ordinal).Take(2)];
        return kinds.Length == 1 ? $"all of them: {kinds[0]}" : "fix the ones above and submit again to see the rest";
    }
}
