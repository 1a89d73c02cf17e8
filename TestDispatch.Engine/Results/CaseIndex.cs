using System.Text;
using System.Text.Json;

namespace TestDispatch.Engine.Results;

/// <summary>
/// <c>cases.jsonl</c> in the state dir: one line per run that had results, appended when its results are recorded, with
/// each case's name, status and time. It answers "what became of this case before" (new, flaky, history) without
/// opening every run's <see cref="ResultsFile"/>. The agent appends to it and prune takes lines out (see RunStore.AppendCases); a line
/// cut short by a crash is skipped by the reader, so the file is never wrong, at worst missing a run.
/// </summary>
public sealed class CaseIndex(string path)
{
    public const string FileName = "cases.jsonl";

    public string Path => path;

    public void Append(CaseIndexEntry entry) => Append(entry with { Cases = [] }, entry.Cases);

    /// <summary>
    /// Appends the line of <paramref name="run"/> (its own cases ignored) with <paramref name="cases"/>, written as they are
    /// enumerated: a run of a million cases costs no more memory than one of ten.
    /// </summary>
    public void Append(CaseIndexEntry run, IEnumerable<CaseOutcome> cases)
    {
        using FileStream stream = new(path, new FileStreamOptions
        {
            Mode = FileMode.Append, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        // A line left without its end by a crash would glue this one to it: start on a line of our own.
        if (stream.Length > 0 && LastByte() != '\n')
        {
            stream.WriteByte((byte)'\n');
        }
        using (BufferedStream buffered = new(stream, 64 * 1024))
        using (Utf8JsonWriter json = new(buffered))
        {
            // What the serializer writes for the entry, up to its last property's value: "cases":[]}, the array written here instead.
            byte[] head = JsonSerializer.SerializeToUtf8Bytes(run with { Cases = [] }, ResultsJson.Default.CaseIndexEntry);
            buffered.Write(head.AsSpan(0, head.Length - "[]}"u8.Length));
            json.WriteStartArray();
            foreach (CaseOutcome outcome in cases)
            {
                JsonSerializer.Serialize(json, outcome, ResultsJson.Default.CaseOutcome);
            }
            json.WriteEndArray();
            json.Flush();
            buffered.Write("}\n"u8);
        }
    }

    /// <summary>
    /// The entries, oldest first, read a line at a time (memory stays that of one line, whatever the index's size); nothing
    /// when there is no index yet. A line that does not read is skipped, and a run recorded again counts once. With
    /// <paramref name="containing"/>, a line is parsed only when its raw text may hold that text in one of its strings
    /// (see <see cref="VerbatimPart"/>): the caller still checks the entries, which are a superset of those holding it.
    /// </summary>
    public IEnumerable<CaseIndexEntry> Read(string? containing = null)
    {
        if (!File.Exists(path))
        {
            yield break;
        }
        string needle = containing is null ? "" : VerbatimPart(containing);
        HashSet<string> runs = new(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            if (line.Length == 0 || !line.Contains(needle, StringComparison.Ordinal))
            {
                continue;
            }
            CaseIndexEntry? entry;
            try
            {
                entry = JsonSerializer.Deserialize(line, ResultsJson.Default.CaseIndexEntry);
            }
            catch (JsonException)
            {
                // A torn last line (a crash mid-append): that run's cases are missing from history, nothing else.
                continue;
            }
            // A run recorded again (an agent died between its line and its verdict, and the next one read it anew) counts once.
            if (entry is not null && runs.Add(entry.Run))
            {
                yield return entry;
            }
        }
    }

    /// <summary>
    /// The longest part of <paramref name="text"/> made of characters the serializer never escapes (ASCII letters and
    /// digits, space, and <c>_ . : - /</c>): a line whose strings hold the text has it as is, even when the text has quotes,
    /// backslashes or non-ASCII characters, written escaped. No such part (""): any line may hold the text.
    /// </summary>
    private static string VerbatimPart(string text)
    {
        (int start, int length) = (0, 0);
        for (int i = 0, run = 0; i < text.Length; i++)
        {
            run = IsVerbatim(text[i]) ? run + 1 : 0;
            if (run > length)
            {
                (start, length) = (i - run + 1, run);
            }
        }
        return text.Substring(start, length);
    }

    private static bool IsVerbatim(char c) => char.IsAsciiLetterOrDigit(c) || c is ' ' or '_' or '.' or ':' or '-' or '/';

    /// <summary>
    /// Rewrites the index without the lines of <paramref name="runs"/> (and without a torn line), through a temporary file
    /// renamed into place; nothing when none of them is in it. The caller keeps appends out meanwhile. Returns how many went.
    /// </summary>
    public int Remove(IReadOnlySet<string> runs)
    {
        if (runs.Count == 0 || !File.Exists(path))
        {
            return 0;
        }
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        int removed = 0;
        try
        {
            using (FileStream stream = new(temporary, new FileStreamOptions
            {
                Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            using (StreamWriter kept = new(stream, new UTF8Encoding(false)))
            {
                foreach (string line in File.ReadLines(path, Encoding.UTF8))
                {
                    if (RunOf(line) is { } run && !runs.Contains(run))
                    {
                        kept.Write(line);
                        kept.Write('\n');
                    }
                    else if (line.Length > 0)
                    {
                        removed++;
                    }
                }
            }
            if (removed > 0)
            {
                File.Move(temporary, path, overwrite: true);
            }
        }
        finally
        {
            File.Delete(temporary);
        }
        return removed;
    }

    private static string? RunOf(string line)
    {
        try
        {
            return line.Length > 0 ? JsonSerializer.Deserialize(line, ResultsJson.Default.CaseIndexEntry)?.Run : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private int LastByte()
    {
        using FileStream read = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        read.Seek(-1, SeekOrigin.End);
        return read.ReadByte();
    }
}

/// <summary>One run's line in <see cref="CaseIndex"/>: where and when it ran, and how each of its cases ended.</summary>
public sealed record CaseIndexEntry(string Run, string TestDir, string TestDirHash, string Machine, DateTimeOffset EndedAt, IReadOnlyList<CaseOutcome> Cases)
{
    public static CaseIndexEntry Of(string run, string testDir, string testDirHash, string machine, DateTimeOffset endedAt, IEnumerable<TestCase> cases) =>
        new(run, testDir, testDirHash, machine, endedAt, [.. cases.Select(CaseOutcome.Of)]);
}

/// <summary>A case by its <see cref="TestCase.FullName"/>, how it ended and how long it took.</summary>
public sealed record CaseOutcome(string Name, TestCaseStatus Status, double? TimeSeconds)
{
    public static CaseOutcome Of(TestCase testCase) => new(testCase.FullName, testCase.Status, testCase.TimeSeconds);
}
