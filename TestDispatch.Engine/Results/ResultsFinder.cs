using System.Text;
using System.Xml;
using Microsoft.Extensions.FileSystemGlobbing;

namespace TestDispatch.Engine.Results;

/// <summary>
/// Finds the JUnit reports a run left: every <c>*.xml</c> under its artifacts directory, and every match of the
/// test's own glob patterns under its work dir, kept when the file's root element is <c>&lt;testsuites&gt;</c> or
/// <c>&lt;testsuite&gt;</c> (only the first <see cref="SniffBytes"/> are read to tell). Symbolic links are never
/// followed, so nothing outside those directories is read.
/// </summary>
public static class ResultsFinder
{
    public const int SniffBytes = 8 * 1024;

    private static readonly EnumerationOptions XmlFiles = new()
    {
        RecurseSubdirectories = true,
        AttributesToSkip = FileAttributes.ReparsePoint,
        IgnoreInaccessible = true,
        MatchCasing = MatchCasing.CaseInsensitive,
    };

    // A DTD is skipped here, not refused: such a report is found, then refused by the reader with a clear error.
    private static readonly XmlReaderSettings SniffSettings = WithDtdIgnored(JUnitReader.Settings);

    /// <summary>
    /// The reports of a run, those under <paramref name="artifactsDir"/> first, each list in path order, each file once.
    /// <paramref name="patterns"/> (e.g. "build/test-results/**/*.xml") are relative to <paramref name="workDir"/>.
    /// </summary>
    public static IReadOnlyList<ReportFile> Find(string artifactsDir, IReadOnlyList<string>? patterns = null, string? workDir = null)
    {
        List<ReportFile> found = [];
        HashSet<string> seen = new(StringComparer.Ordinal);
        void Add(string path, string name)
        {
            if (seen.Add(path) && IsJUnitReport(path))
            {
                found.Add(new ReportFile(path, name));
            }
        }

        string artifacts = Path.TrimEndingDirectorySeparator(Path.GetFullPath(artifactsDir));
        if (Directory.Exists(artifacts))
        {
            foreach (string path in Directory.EnumerateFiles(artifacts, "*.xml", XmlFiles).Order(StringComparer.Ordinal))
            {
                Add(path, $"{Path.GetFileName(artifacts)}/{Path.GetRelativePath(artifacts, path)}");
            }
        }
        if (patterns is { Count: > 0 })
        {
            if (workDir is null)
            {
                throw new ArgumentException("glob patterns need the work dir they are relative to", nameof(workDir));
            }
            string root = Path.GetFullPath(workDir);
            Matcher matcher = new(StringComparison.Ordinal);
            matcher.AddIncludePatterns(patterns);
            foreach (string match in matcher.Execute(new TreeDirectory(new DirectoryInfo(root), null)).Files
                         .Select(f => f.Path).Order(StringComparer.Ordinal))
            {
                Add(Path.GetFullPath(Path.Combine(root, match)), match);
            }
        }
        return found;
    }

    /// <summary>Whether the file's root element, within its first <see cref="SniffBytes"/>, is a JUnit one.</summary>
    public static bool IsJUnitReport(string path)
    {
        try
        {
            FileInfo file = new(path);
            // An empty file is no report, and a FIFO (size 0 too) would block the open for ever.
            if (!file.Exists || file.Length == 0 || file.LinkTarget is not null)
            {
                return false;
            }
            byte[] head = new byte[SniffBytes];
            int read;
            using (FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            }
            using ControlCharacterFilter text = new(new StreamReader(new MemoryStream(head, 0, read), Encoding.UTF8, true));
            using XmlReader xml = XmlReader.Create(text, SniffSettings);
            return xml.MoveToContent() == XmlNodeType.Element && xml.LocalName is "testsuites" or "testsuite";
        }
        catch (Exception e) when (e is XmlException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static XmlReaderSettings WithDtdIgnored(XmlReaderSettings settings)
    {
        XmlReaderSettings copy = settings.Clone();
        copy.DtdProcessing = DtdProcessing.Ignore;
        return copy;
    }
}
