using System.IO.Abstractions;
using System.Text;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Storage;

/// <summary>Where one history record is: its id, 'r' (run) or 'b' (batch), its segment and the offset of its line there.</summary>
internal readonly record struct IdEntry(string Id, char Kind, long Segment, long Offset);

/// <summary>
/// history/ids.&lt;gen&gt;.idx: every record in history, sorted by id, in fixed-width text lines
/// (<c>id padded to 16, kind, segment, offset</c>), so finding an id or a prefix is a binary search of ~20 reads of one
/// line, whatever the history size. Derived data: written whole beside the previous one (a streaming merge of it with
/// the new segment's entries) and named by the history generation, never changed in place.
/// </summary>
/// <param name="required">Whether history holds records, so that this file must be there, whole.</param>
internal sealed class IdIndexFile(IFileSystem fs, string path, bool required = true)
{
    private const int IdWidth = 16;
    public const int LineLength = IdWidth + 1 + 8 + 12 + 1;

    public string Path => path;

    /// <summary>Up to <paramref name="max"/> entries of <paramref name="kind"/> whose id starts with <paramref name="prefix"/>, in id order.</summary>
    public List<IdEntry> Find(string prefix, char kind, int max = 5)
    {
        List<IdEntry> found = [];
        if (!IsThere() || prefix.Length > IdWidth)
        {
            return found;
        }
        try
        {
            using Stream stream = fs.FileStream.New(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long count = WholeLines(stream.Length);
            byte[] line = new byte[LineLength];
            // Lower bound: the first line whose id is not below the prefix.
            long low = 0, high = count;
            while (low < high)
            {
                long mid = (low + high) / 2;
                ReadLine(stream, mid, line);
                if (string.CompareOrdinal(IdOf(line), prefix) < 0)
                {
                    low = mid + 1;
                }
                else
                {
                    high = mid;
                }
            }
            for (long i = low; i < count && found.Count < max; i++)
            {
                ReadLine(stream, i, line);
                IdEntry entry = Parse(line);
                if (!entry.Id.StartsWith(prefix, StringComparison.Ordinal))
                {
                    break;
                }
                if (entry.Kind == kind)
                {
                    found.Add(entry);
                }
            }
        }
        catch (Exception e) when (IoErrors.IsIo(e))
        {
            throw StorageFailure.Read(path, e);
        }
        catch (FormatException)
        {
            throw StateCorruption.At(path, $"a line is not 'id kind segment offset'; {Rebuilds}");
        }
        return found;
    }

    /// <summary>Every entry, in id order, read sequentially.</summary>
    public IEnumerable<IdEntry> ReadAll()
    {
        if (!IsThere())
        {
            yield break;
        }
        using Stream stream = fs.FileStream.New(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete, BufferSize = 1 << 16 });
        WholeLines(stream.Length);
        byte[] line = new byte[LineLength];
        while (stream.ReadAtLeast(line, LineLength, throwOnEndOfStream: false) == LineLength)
        {
            yield return Parse(line);
        }
    }

    /// <summary>
    /// Whether there is a file to read. One history needs but lacks is damage (it is written before index.json names it),
    /// not an empty index: else a run would be "not found", and the next merge would write an index without them all.
    /// </summary>
    private bool IsThere() =>
        fs.File.Exists(path) || (required ? throw StateCorruption.At(path, $"the id index is missing; {Rebuilds}") : false);

    private long WholeLines(long length) =>
        length % LineLength == 0 ? length / LineLength : throw StateCorruption.At(path, $"the id index is cut short; {Rebuilds}");

    private const string Rebuilds = "'testdispatch doctor --repair' rebuilds it from the segments";

    /// <summary>
    /// Writes <paramref name="kept"/> (in id order: the previous index's entries still wanted) merged with
    /// <paramref name="added"/> (any order) to <paramref name="stream"/>. Where both hold a record, the added one wins,
    /// and <paramref name="replaced"/> learns that its current copy is in the new segment.
    /// </summary>
    public static void WriteMerged(Stream stream, IEnumerable<IdEntry> kept, List<IdEntry> added, Action<IdEntry>? replaced = null)
    {
        added.Sort(Compare);
        BufferedStream output = new(stream, 1 << 16); // not disposed: that would close the caller's stream
        byte[] line = new byte[LineLength];
        int next = 0;
        foreach (IdEntry old in kept)
        {
            while (next < added.Count && Compare(added[next], old) < 0)
            {
                Write(output, added[next++], line);
            }
            if (next < added.Count && Compare(added[next], old) == 0)
            {
                replaced?.Invoke(added[next]);
                continue; // the added copy is written when the loop reaches past it
            }
            Write(output, old, line);
        }
        while (next < added.Count)
        {
            Write(output, added[next++], line);
        }
        output.Flush();
    }

    private static int Compare(IdEntry a, IdEntry b)
    {
        int byId = string.CompareOrdinal(a.Id, b.Id);
        return byId != 0 ? byId : a.Kind.CompareTo(b.Kind);
    }

    private static void Write(Stream output, IdEntry entry, byte[] line)
    {
        if (entry.Id.Length > IdWidth)
        {
            throw new InvalidOperationException($"id '{entry.Id}' is longer than the history index allows ({IdWidth})");
        }
        Encoding.ASCII.GetBytes($"{entry.Id,-IdWidth}{entry.Kind}{entry.Segment:D8}{entry.Offset:D12}\n", line);
        output.Write(line);
    }

    private static void ReadLine(Stream stream, long index, byte[] line)
    {
        stream.Seek(index * LineLength, SeekOrigin.Begin);
        stream.ReadExactly(line);
    }

    private static string IdOf(byte[] line) => Encoding.ASCII.GetString(line, 0, IdWidth).TrimEnd(' ');

    private static IdEntry Parse(byte[] line)
    {
        if (line[LineLength - 1] != (byte)'\n')
        {
            throw new FormatException("line end");
        }
        return new IdEntry(IdOf(line), (char)line[IdWidth],
            long.Parse(line.AsSpan(IdWidth + 1, 8), provider: System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(line.AsSpan(IdWidth + 9, 12), provider: System.Globalization.CultureInfo.InvariantCulture));
    }
}
