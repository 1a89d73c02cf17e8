namespace TestDispatch.Engine.Configuration;

/// <summary>
/// What a machine's ssh settings may hold (the <c>Host</c>, <c>User</c>, <c>WorkRoot</c> and <c>SshOptions</c> keys): a host and
/// user that ssh cannot take as an option, an absolute work root, and no ssh option that would break the ssh transport, which
/// keeps its own master connection per machine, sends its scripts on stdin and must never get a terminal (docs/SSH.md).
/// </summary>
public static class SshSettings
{
    /// <summary>Options in <c>SshOptions</c> that would break the transport, and why.</summary>
    private static readonly Dictionary<string, string> Refused = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ControlPath"] = "the agent keeps its own master connection per machine",
        ["ControlMaster"] = "the agent keeps its own master connection per machine",
        ["ControlPersist"] = "the agent keeps its own master connection per machine",
        ["RemoteCommand"] = "the transport sends its own command",
        ["RequestTTY"] = "a terminal would merge the test's stderr into stdout and make it die with the connection",
        ["SessionType"] = "the transport needs a command session",
        ["StdinNull"] = "the transport sends its scripts on stdin",
        ["ForkAfterAuthentication"] = "the transport waits for its commands",
        ["PermitLocalCommand"] = "a local command would run on the controller with every connection",
        ["LocalCommand"] = "a local command would run on the controller with every connection",
    };

    private static readonly Dictionary<string, string> RefusedFlags = new(StringComparer.Ordinal)
    {
        ["-t"] = "a terminal would merge the test's stderr into stdout and make it die with the connection",
        ["-tt"] = "a terminal would merge the test's stderr into stdout and make it die with the connection",
        ["-M"] = "the agent keeps its own master connection per machine",
        ["-S"] = "the agent keeps its own master connection per machine",
        ["-N"] = "the transport sends commands",
        ["-f"] = "the transport waits for its commands",
        ["-n"] = "the transport sends its scripts on stdin",
        ["-O"] = "the agent controls its master connection itself",
        ["-W"] = "the transport needs a command session",
    };

    /// <summary>What is wrong with a machine's ssh settings, for the configuration's error list (empty when nothing is).</summary>
    public static IEnumerable<string> Problems(Machine machine)
    {
        if (machine.Host is { } host && (host.StartsWith('-') || host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            yield return $"Host '{host}' (machine '{machine.Name}') is not a host name: it starts with '-' or holds spaces; give a name or address such as rig-07.lab";
        }
        if (machine.User is { } user && (user.StartsWith('-') || user.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '@' or ':')))
        {
            yield return $"User '{user}' (machine '{machine.Name}') is not a user name; give the login name on the machine, such as lab";
        }
        if (string.IsNullOrWhiteSpace(machine.WorkRoot) || !(machine.WorkRoot.StartsWith('/') || machine.WorkRoot.StartsWith("~/", StringComparison.Ordinal)))
        {
            yield return $"WorkRoot '{machine.WorkRoot}' (machine '{machine.Name}') must be an absolute path on the machine (or start with ~/), such as /var/tmp/testdispatch";
        }
        IReadOnlyList<string> options = machine.SshOptions;
        for (int i = 0; i < options.Count; i++)
        {
            string option = options[i];
            string? setting = option == "-o" && i + 1 < options.Count ? options[++i]
                : option.StartsWith("-o", StringComparison.Ordinal) && option.Length > 2 ? option[2..]
                : null;
            if (setting is not null)
            {
                string name = setting.Split(['=', ' ', '\t'], 2)[0].Trim();
                if (Refused.TryGetValue(name, out string? why))
                {
                    yield return $"SshOptions of machine '{machine.Name}' sets {name}, which the ssh transport cannot allow: {why}; remove '{setting}'";
                }
                continue;
            }
            string flag = option.Length > 2 && option[0] == '-' && option[1] != '-' && RefusedFlags.ContainsKey(option[..2]) ? option[..2] : option;
            if (RefusedFlags.TryGetValue(flag, out string? flagWhy))
            {
                yield return $"SshOptions of machine '{machine.Name}' has {option}, which the ssh transport cannot allow: {flagWhy}; remove it";
            }
            else if (option.StartsWith("-v", StringComparison.Ordinal) && option.Trim('-', 'v').Length == 0 && !options.Any(o => o.StartsWith("-E", StringComparison.Ordinal)))
            {
                yield return $"SshOptions of machine '{machine.Name}' has {option} without -E: ssh's debug output would hold its pipes open and hang every call; " +
                    "add \"-E\", \"/path/to/ssh-debug.log\" to write it to a file";
            }
        }
    }
}
