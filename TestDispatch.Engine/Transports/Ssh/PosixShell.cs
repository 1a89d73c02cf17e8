namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// The one place where a value becomes a word for a shell (docs/SSH.md §5). Used only inside the scripts the ssh transport
/// sends to a remote <c>/bin/sh</c> on its stdin: the remote login shell (bash, fish, tcsh…) never parses anything but
/// the constant <see cref="Entry"/>, so its quoting rules never matter.
/// </summary>
public static class PosixShell
{
    /// <summary>What the remote login shell is given as the command: a POSIX sh reading the script from stdin.</summary>
    public const string Entry = "exec /bin/sh -s";

    /// <summary>
    /// <paramref name="value"/> as one POSIX sh word, whatever it holds: inside single quotes nothing is special, and
    /// a single quote itself is written as <c>'\''</c> (end the quote, an escaped quote, quote again).
    /// </summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Each value quoted, joined by spaces.</summary>
    public static string Words(IEnumerable<string> values) => string.Join(' ', values.Select(Quote));
}
