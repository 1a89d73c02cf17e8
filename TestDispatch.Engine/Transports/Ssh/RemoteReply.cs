using System.Text;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// What one of <see cref="RemoteScripts"/> answered: its lines (<c>KIND TEXT</c>) between its markers, and, after an
/// <c>L n</c> line, raw log bytes. Anything the login shell or a profile printed around the markers is ignored.
/// </summary>
internal sealed class RemoteReply
{
    private RemoteReply(IReadOnlyList<string> lines, byte[] log, int status)
    {
        Lines = lines;
        Log = log;
        Status = status;
    }

    public IReadOnlyList<string> Lines { get; }

    /// <summary>The log bytes the script sent (empty if it sent none).</summary>
    public byte[] Log { get; }

    /// <summary>The script's own exit status (0 when it did all it meant to).</summary>
    public int Status { get; }

    /// <summary>The text after <c>KIND </c> in the first line of that kind, or null.</summary>
    public string? Value(char kind) => Values(kind).FirstOrDefault();

    public IEnumerable<string> Values(char kind) =>
        Lines.Where(l => l.Length >= 1 && l[0] == kind && (l.Length == 1 || l[1] == ' ')).Select(l => l.Length > 2 ? l[2..] : "");

    /// <summary>The status in the end marker that <paramref name="tail"/> (the last bytes a script wrote) ends with, or null.</summary>
    public static int? EndStatus(ReadOnlySpan<byte> tail, string nonce)
    {
        byte[] end = Encoding.ASCII.GetBytes($"\nTD-END {nonce} ");
        int stop = tail.LastIndexOf(end);
        if (stop < 0)
        {
            return null;
        }
        ReadOnlySpan<byte> rest = tail[(stop + end.Length)..];
        int newline = rest.IndexOf((byte)'\n');
        return newline >= 0 && int.TryParse(Encoding.ASCII.GetString(rest[..newline]), out int status) ? status : null;
    }

    /// <summary>The reply in <paramref name="output"/>, or null when the script did not get to its end marker (the session failed).</summary>
    public static RemoteReply? Parse(byte[] output, string nonce)
    {
        ReadOnlySpan<byte> all = output;
        byte[] begin = Encoding.ASCII.GetBytes($"TD-BEGIN {nonce}\n");
        byte[] end = Encoding.ASCII.GetBytes($"\nTD-END {nonce} ");
        int start = all.IndexOf(begin);
        int stop = all.LastIndexOf(end);
        if (start < 0 || stop < start)
        {
            return null;
        }
        ReadOnlySpan<byte> tail = all[(stop + end.Length)..];
        int newline = tail.IndexOf((byte)'\n');
        if (newline < 0 || !int.TryParse(Encoding.ASCII.GetString(tail[..newline]), out int status))
        {
            return null;
        }
        ReadOnlySpan<byte> body = all[(start + begin.Length)..stop];
        List<string> lines = [];
        byte[] log = [];
        while (!body.IsEmpty)
        {
            int eol = body.IndexOf((byte)'\n');
            string line = Encoding.UTF8.GetString(eol < 0 ? body : body[..eol]);
            body = eol < 0 ? [] : body[(eol + 1)..];
            lines.Add(line);
            if (line.StartsWith("L ", StringComparison.Ordinal))
            {
                log = body.ToArray();
                break;
            }
        }
        return new RemoteReply(lines, log, status);
    }
}
