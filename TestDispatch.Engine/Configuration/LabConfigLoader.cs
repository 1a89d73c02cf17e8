using System.Globalization;
using Microsoft.Extensions.Configuration;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Engine.Configuration;

/// <summary>
/// Layers the configuration sources and validates them into a <see cref="LabConfig"/>. Every problem is
/// reported at once, each naming the key, where it came from, the offending value and the fix.
/// Lists (Machines, Command, Tags, SshOptions) come whole from the last source that sets them: merging
/// lists index by index would splice a user's machines into the default ones.
/// </summary>
public static class LabConfigLoader
{
    private const string Root = "TestDispatch";
    private static readonly string[] RootKeys = ["StateDir", "Defaults", "Machines", "Health", "Retention", "Results"];
    private static readonly string[] HealthKeys = ["InfraFailuresInARow", "MaxHeldShare", "CheckAfter"];
    private static readonly string[] RetentionKeys = ["OlderThan", "KeepFailed"];
    private static readonly string[] ResultsKeys = ["FlakyWindow"];
    private static readonly string[] DefaultsKeys = ["Command", "Timeout", "AgentIdle", "KillGrace", "UnreachableGrace", "LogLimit"];
    private static readonly string[] MachineKeys =
        ["Name", "Transport", "Host", "User", "Port", "IdentityFile", "SshOptions", "WorkRoot", "KeepWorkDir", "LockDir", "Tags", "HealthCheck",
            "Node", "Partition", "Constraint", "SlurmOptions"];

    public static LabConfig Load(ConfigSources sources)
    {
        List<string> errors = [];
        IConfigurationRoot config = Build(sources, errors);
        ConfigReader read = new(config, errors);

        read.CheckKnownKeys(Root, RootKeys);
        read.CheckKnownKeys($"{Root}:Defaults", DefaultsKeys);

        RunDefaults defaults = new(
            Command: ReadCommand(read, $"{Root}:Defaults:Command") ?? ["./run.sh"],
            Timeout: ReadTimeLimit(read, $"{Root}:Defaults:Timeout") ?? TimeSpan.FromMinutes(30),
            AgentIdle: ReadPositiveDuration(read, $"{Root}:Defaults:AgentIdle") ?? TimeSpan.FromMinutes(2))
        {
            KillGrace = ReadPositiveDuration(read, $"{Root}:Defaults:KillGrace") ?? TimeSpan.FromSeconds(5),
            UnreachableGrace = ReadPositiveDuration(read, $"{Root}:Defaults:UnreachableGrace") ?? TimeSpan.FromMinutes(1),
            LogLimit = ReadLogLimit(read, $"{Root}:Defaults:LogLimit") ?? 100L << 20,
        };

        List<Machine> machines = ReadMachines(read, errors);
        read.CheckKnownKeys($"{Root}:Health", HealthKeys);
        HealthRules health = ReadHealth(read);
        RetentionSettings? retention = ReadRetention(read, errors);
        read.CheckKnownKeys($"{Root}:Results", ResultsKeys);
        ResultsSettings results = new(ReadPositiveDuration(read, $"{Root}:Results:FlakyWindow") ?? ResultsSettings.DefaultFlakyWindow);

        string stateDir = sources.StateDirOverride is { Length: > 0 } overridden
            ? ExpandHome(overridden, sources.Home)
            : read.Value($"{Root}:StateDir") is { Length: > 0 } configured
                ? ExpandHome(configured, sources.Home)
                : sources.DefaultStateDir;

        if (errors.Count > 0)
        {
            throw new DispatchException(ErrorCodes.ConfigInvalid,
                "configuration is invalid:\n  - " + string.Join("\n  - ", errors));
        }
        (string source, string fingerprint) = Describe(sources);
        return new LabConfig(Path.GetFullPath(stateDir), defaults, machines)
        {
            Health = health, Retention = retention, Results = results, Source = source, Fingerprint = fingerprint,
        };
    }

    /// <summary>The files and environment variables a configuration is read from, and a digest of their bytes.</summary>
    private static (string Source, string Fingerprint) Describe(ConfigSources sources)
    {
        List<string> parts = [];
        using System.Security.Cryptography.IncrementalHash digest = System.Security.Cryptography.IncrementalHash.CreateHash(
            System.Security.Cryptography.HashAlgorithmName.SHA256);
        void Add(string text) => digest.AppendData(System.Text.Encoding.UTF8.GetBytes(text + "\0"));
        foreach (string? file in new[] { sources.DefaultFile, sources.UserFile, sources.ExplicitFile })
        {
            if (file is not null && File.Exists(file))
            {
                string path = Path.GetFullPath(file);
                parts.Add(path);
                Add(path);
                digest.AppendData(File.ReadAllBytes(path));
            }
        }
        foreach ((string key, string value) in sources.Environment
            .Where(e => e.Key.StartsWith(ConfigSources.EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            .OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => (e.Key, e.Value)))
        {
            parts.Add($"${key}");
            Add($"{key}={value}");
        }
        return (parts.Count == 0 ? "built in" : string.Join(", ", parts), Convert.ToHexStringLower(digest.GetHashAndReset())[..16]);
    }

    private static IConfigurationRoot Build(ConfigSources sources, List<string> errors)
    {
        if (sources.ExplicitFile is { } explicitFile && !File.Exists(explicitFile))
        {
            throw new DispatchException(ErrorCodes.ConfigInvalid,
                $"config file '{explicitFile}' (from --config) does not exist; check the path");
        }
        ConfigurationBuilder builder = new();
        foreach (string? file in new[] { sources.DefaultFile, sources.UserFile, sources.ExplicitFile })
        {
            if (file is not null && File.Exists(file))
            {
                errors.AddRange(ConfigFile.Problems(Path.GetFullPath(file), Root));
                builder.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
            }
        }
        builder.AddInMemoryCollection(sources.Environment
            .Where(e => e.Key.StartsWith(ConfigSources.EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            .Select(e => KeyValuePair.Create(
                Root + ":" + e.Key[ConfigSources.EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal),
                (string?)e.Value)));
        return builder.Build();
    }

    private static List<Machine> ReadMachines(ConfigReader read, List<string> errors)
    {
        List<Machine> machines = [];
        ConfigReader.ListSource? source = read.ListFrom($"{Root}:Machines");
        if (source is null)
        {
            errors.Add($"{Root}:Machines: no machines are configured; add at least one, e.g. {{ \"Name\": \"local-1\", \"Transport\": \"local\" }}");
            return machines;
        }
        foreach (string index in source.Indices)
        {
            string key = $"{Root}:Machines:{index}";
            ConfigReader.ListSource machine = source.Child(index);
            read.CheckKnownKeys(machine, key, MachineKeys);

            string? name = machine.Value("Name");
            if (string.IsNullOrWhiteSpace(name))
            {
                errors.Add($"{key}:Name is missing{machine.Where}; give every machine a unique name");
                continue;
            }
            if (!IsGoodName(name))
            {
                errors.Add($"{key}:Name '{name}'{machine.Where} has characters other than letters, digits, '.', '_' and '-'; rename it");
            }
            if (machines.Any(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                errors.Add($"{key}:Name '{name}'{machine.Where} is a duplicate: another machine already has that name; give each machine its own name");
            }

            string transportText = machine.Value("Transport") ?? "";
            TransportKind? transport = transportText.ToLowerInvariant() switch
            {
                "local" => TransportKind.Local,
                "ssh" => TransportKind.Ssh,
                "slurm" => TransportKind.Slurm,
                _ => null,
            };
            if (transport is null)
            {
                errors.Add($"{key}:Transport '{transportText}'{machine.Where} (machine '{name}') is not a transport; use \"local\", \"ssh\" or \"slurm\"");
            }
            string? host = machine.Value("Host");
            if (transport == TransportKind.Ssh && string.IsNullOrWhiteSpace(host))
            {
                errors.Add($"{key}:Host is missing{machine.Where}: ssh machine '{name}' needs a host; set \"Host\": \"rig.lab\"");
            }
            int port = 22;
            if (machine.Value("Port") is { } portText &&
                (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
            {
                errors.Add($"{key}:Port '{portText}'{machine.Where} (machine '{name}') is not a TCP port; use a number from 1 to 65535");
            }
            bool keep = false;
            if (machine.Value("KeepWorkDir") is { } keepText && !bool.TryParse(keepText, out keep))
            {
                errors.Add($"{key}:KeepWorkDir '{keepText}'{machine.Where} (machine '{name}') is not true or false");
            }

            string lockDir = machine.Value("LockDir") ?? Machine.DefaultLockDir;
            if (!lockDir.StartsWith('/') || lockDir.Contains('\n'))
            {
                errors.Add($"{key}:LockDir '{lockDir}'{machine.Where} (machine '{name}') is not an absolute path; use a local directory every user of the machine shares, such as \"/tmp\"");
            }

            IReadOnlyList<string> tags = machine.List("Tags");
            if (tags.Any(string.IsNullOrWhiteSpace))
            {
                errors.Add($"{key}:Tags{machine.Where} (machine '{name}') has an empty tag; remove it, or give it a word such as \"x86\"");
            }

            Machine defined = new()
            {
                Name = name,
                Transport = transport ?? TransportKind.Local,
                Host = string.IsNullOrWhiteSpace(host) ? null : host,
                User = machine.Value("User"),
                Port = port,
                IdentityFile = machine.Value("IdentityFile"),
                SshOptions = machine.List("SshOptions"),
                WorkRoot = machine.Value("WorkRoot") ?? "/var/tmp/testdispatch",
                KeepWorkDir = keep,
                Node = machine.Value("Node") is { Length: > 0 } node ? node : null,
                Partition = machine.Value("Partition") is { Length: > 0 } partition ? partition : null,
                Constraint = machine.Value("Constraint") is { Length: > 0 } constraint ? constraint : null,
                SlurmOptions = machine.List("SlurmOptions"),
                LockDir = lockDir,
                Tags = tags,
                HealthCheck = machine.Value("HealthCheck") is { Length: > 0 } check ? Path.GetFullPath(ExpandHome(check, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)), machine.BaseDirectory) : null,
            };
            if (defined.Transport == TransportKind.Ssh)
            {
                errors.AddRange(SshSettings.Problems(defined).Select(p => $"{key}: {p}{machine.Where}"));
            }
            if (defined.Transport == TransportKind.Slurm)
            {
                if (machine.Value("WorkRoot") is null)
                {
                    errors.Add($"{key}:WorkRoot is missing{machine.Where}: Slurm machine '{name}' needs a directory the controller and every node share; " +
                        "set \"WorkRoot\": \"/shared/testdispatch\"");
                }
                errors.AddRange(SlurmSettings.Problems(defined).Select(p => $"{key}: {p}{machine.Where}"));
            }
            machines.Add(defined);
        }
        return machines;
    }

    private static HealthRules ReadHealth(ConfigReader read)
    {
        HealthRules rules = new();
        string key = $"{Root}:Health";
        if (read.Value($"{key}:InfraFailuresInARow") is { } n)
        {
            if (int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count >= 1)
            {
                rules = rules with { InfraFailuresInARow = count };
            }
            else
            {
                read.Error($"{key}:InfraFailuresInARow '{n}'{read.Where($"{key}:InfraFailuresInARow")} is not a whole number of at least 1; e.g. 3");
            }
        }
        if (read.Value($"{key}:MaxHeldShare") is { } share)
        {
            if (double.TryParse(share, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value is >= 0 and <= 1)
            {
                rules = rules with { MaxHeldShare = value };
            }
            else
            {
                read.Error($"{key}:MaxHeldShare '{share}'{read.Where($"{key}:MaxHeldShare")} is not a share from 0 to 1; e.g. 0.5 for half the machines of a tag");
            }
        }
        if (ReadPositiveDuration(read, $"{key}:CheckAfter") is { } after)
        {
            rules = rules with { CheckAfter = after };
        }
        return rules;
    }

    private static IReadOnlyList<string>? ReadCommand(ConfigReader read, string key)
    {
        ConfigReader.ListSource? source = read.ListFrom(key);
        if (source is null)
        {
            if (read.Value(key) is { Length: > 0 } single)
            {
                read.Error($"{key} '{single}'{read.Where(key)} must be a list of arguments, e.g. [\"./run.sh\", \"--fast\"]");
            }
            return null;
        }
        List<string> command = [.. source.Indices.Select(i => source.Value(i) ?? "")];
        if (command.Count == 0 || string.IsNullOrWhiteSpace(command[0]))
        {
            read.Error($"{key}{source.Where} has an empty program name; give the test's entry command, e.g. [\"./run.sh\"]");
        }
        return command;
    }

    private static TimeSpan? ReadTimeLimit(ConfigReader read, string key)
    {
        string? text = read.Value(key);
        if (text is null)
        {
            return null;
        }
        TimeSpan? limit = Duration.ParseTimeLimit(text, key, out string? problem);
        if (problem is not null)
        {
            read.Error($"{problem}{read.Where(key)}");
        }
        return limit;
    }

    private static RetentionSettings? ReadRetention(ConfigReader read, List<string> errors)
    {
        read.CheckKnownKeys($"{Root}:Retention", RetentionKeys);
        TimeSpan? olderThan = ReadPositiveDuration(read, $"{Root}:Retention:OlderThan");
        bool keepFailed = false;
        if (read.Value($"{Root}:Retention:KeepFailed") is { } text && !bool.TryParse(text, out keepFailed))
        {
            errors.Add($"{Root}:Retention:KeepFailed '{text}'{read.Where($"{Root}:Retention:KeepFailed")} is not true or false");
        }
        return olderThan is { } age ? new RetentionSettings(age, keepFailed) : null;
    }

    private static long? ReadLogLimit(ConfigReader read, string key)
    {
        string? text = read.Value(key);
        if (text is null)
        {
            return null;
        }
        if (!ByteSize.TryParse(text, out long bytes) || bytes < ByteSize.SmallestLogLimit)
        {
            read.Error($"{key} '{text}'{read.Where(key)} is not a size of at least 64KiB; {ByteSize.Help} (e.g. 100MiB)");
            return null;
        }
        return bytes;
    }

    private static TimeSpan? ReadPositiveDuration(ConfigReader read, string key)
    {
        string? text = read.Value(key);
        if (text is null)
        {
            return null;
        }
        if (!Duration.TryParse(text, out TimeSpan value))
        {
            read.Error($"{key} '{text}'{read.Where(key)} is not a duration; {Duration.Help}");
            return null;
        }
        if (value <= TimeSpan.Zero)
        {
            read.Error($"{key} '{text}'{read.Where(key)} must be more than zero; e.g. 00:30:00 or 30m");
            return null;
        }
        return value;
    }

    private static bool IsGoodName(string name) =>
        name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-') && char.IsAsciiLetterOrDigit(name[0]);

    private static string ExpandHome(string path, string home) =>
        path == "~" ? home : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, path[2..]) : path;
}
