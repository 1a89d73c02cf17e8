using System.Text.Json;
using System.Text.Json.Serialization;
using TestDispatch.Engine.IO;
using TestDispatch.Engine.Machines;

namespace TestDispatch.Engine.Storage;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Dictionary<string, Contact>))]
internal sealed partial class ReachabilityJson : JsonSerializerContext;

/// <summary>
/// <c>reachability.json</c> in the state dir: the agent's last contact with each ssh machine, and who held its lock then, by machine name. Only the agent
/// writes it (tmp + rename, no fsync: it is advice, and the next contact rewrites it); anyone reads it.
/// </summary>
public sealed class ReachabilityFile(StatePaths paths)
{
    private static readonly TimeSpan RewriteEvery = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private Dictionary<string, Contact>? _contacts;

    public string FilePath => Path.Combine(paths.Root, "reachability.json");

    /// <summary>Records an answer or a failure; rewrites the file when a machine's state changed, or its last contact is 30 s old.</summary>
    public void Record(string machine, bool reachable, string? why)
    {
        lock (_gate)
        {
            _contacts ??= Read(paths).ToDictionary();
            DateTimeOffset now = DateTimeOffset.UtcNow;
            Contact? was = _contacts.GetValueOrDefault(machine);
            if (was is not null && was.Reachable == reachable && was.Reason == why && now - was.LastContact < RewriteEvery)
            {
                return;
            }
            _contacts[machine] = new Contact
            {
                Reachable = reachable,
                Since = was is not null && was.Reachable == reachable ? was.Since : now,
                LastContact = reachable ? now : was?.LastContact ?? now,
                Reason = reachable ? null : why,
                HeldBy = was?.HeldBy,
                HeldSeen = was?.HeldSeen,
            };
            Write();
        }
    }

    /// <summary>Records who holds the machine's lock (null: nobody), as the agent's look there begun at <paramref name="looked"/> found it.</summary>
    public void Held(string machine, LockHolder? holder, DateTimeOffset looked)
    {
        lock (_gate)
        {
            _contacts ??= Read(paths).ToDictionary();
            DateTimeOffset now = DateTimeOffset.UtcNow;
            _contacts[machine] = (_contacts.GetValueOrDefault(machine) ?? new Contact { Reachable = true, Since = now, LastContact = now }) with
            {
                HeldBy = holder,
                HeldSeen = looked,
            };
            Write();
        }
    }

    private void Write()
    {
        try
        {
            string temp = FilePath + ".tmp";
            using (FileStream file = new(temp, new FileStreamOptions
            {
                Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = FileModes.PrivateFile,
            }))
            {
                JsonSerializer.Serialize(file, _contacts, ReachabilityJson.Default.DictionaryStringContact);
            }
            File.Move(temp, FilePath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Advice only: the next contact tries again.
        }
    }

    /// <summary>What the file says (empty when there is none, or it cannot be read).</summary>
    public static IReadOnlyDictionary<string, Contact> Read(StatePaths paths)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(paths.Root, "reachability.json")), ReachabilityJson.Default.DictionaryStringContact)
                ?? [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return new Dictionary<string, Contact>();
        }
    }
}
