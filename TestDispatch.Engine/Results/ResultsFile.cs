using System.Text;
using System.Text.Json;

namespace TestDispatch.Engine.Results;

/// <summary>
/// <c>results.jsonl</c>: the cases of one run, one JSON object per line (<see cref="ResultsJson"/>), so a reader
/// can stream them and a tool can grep them. Written whole to a temporary file and renamed into place: a reader
/// sees the old file or the new one, never half of one.
/// </summary>
public static class ResultsFile
{
    public const string FileName = "results.jsonl";

    public static void Write(string path, IEnumerable<TestCase> cases)
    {
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            using (FileStream stream = new(temporary, FileMode.Create, FileAccess.Write))
            {
                foreach (TestCase testCase in cases)
                {
                    JsonSerializer.Serialize(stream, testCase, ResultsJson.Default.TestCase);
                    stream.WriteByte((byte)'\n');
                }
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The cases in the file at <paramref name="path"/>; a line that is not a case is an <see cref="InvalidDataException"/> naming it.</summary>
    public static IReadOnlyList<TestCase> Read(string path) => [.. Stream(path)];

    /// <summary>The cases in the file at <paramref name="path"/>, one at a time as <see cref="Read"/> reads them.</summary>
    public static IEnumerable<TestCase> Stream(string path)
    {
        int number = 0;
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            number++;
            if (!string.IsNullOrWhiteSpace(line))
            {
                yield return Parse(path, number, line);
            }
        }
    }

    private static TestCase Parse(string path, int number, string line)
    {
        try
        {
            return JsonSerializer.Deserialize(line, ResultsJson.Default.TestCase) ?? throw new JsonException("null where a test case was expected");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} line {number}: not a test case: {e.Message}", e);
        }
    }
}
