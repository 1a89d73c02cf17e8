using System.Globalization;
using System.Text;

namespace TestDispatch.Engine.IO;

/// <summary>
/// A log of events, one line each, stamped with its UTC time (agent.log is one). One event stays one line whatever it
/// quotes: a newline or another control character in a test dir's name or a machine's message is written escaped
/// (<c>\n</c>, <c>\x1b</c>), so neither a reader nor a terminal showing the log can be misled by it.
/// </summary>
public sealed class TimedLog(TextWriter writer, TimeProvider? clock = null)
{
    public static TimedLog Null { get; } = new(TextWriter.Null);

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public void Write(string message) =>
        writer.WriteLine($"{_clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)} {OneLine(message)}");

    /// <summary><paramref name="text"/> with its control characters written as escapes, so it prints as one line.</summary>
    public static string OneLine(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }
        StringBuilder line = new(text.Length + 8);
        foreach (char c in text)
        {
            line.Append(c switch
            {
                '\n' => @"\n",
                '\r' => @"\r",
                '\t' => @"\t",
                _ when char.IsControl(c) => $@"\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }
        return line.ToString();
    }
}
