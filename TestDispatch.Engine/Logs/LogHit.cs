using System.Text.Json.Serialization;

namespace TestDispatch.Engine.Logs;

/// <summary>What a hit is: a matching line, or grep's one "binary file matches" for a log holding NUL bytes.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LogHitKind>))]
public enum LogHitKind
{
    [JsonStringEnumMemberName("line")] Line,
    [JsonStringEnumMemberName("binary_file")] BinaryFile,
}

/// <summary>
/// One hit of <see cref="LogSearch"/>: the 1-based number and byte offset of the matching line, and its text decoded
/// as UTF-8 with invalid bytes replaced. Control characters are left as they are: making them safe is the display's
/// job. A line longer than the search's bound is cut around the match, with "…" where bytes are left out and
/// <see cref="Cut"/> set. A <see cref="LogHitKind.BinaryFile"/> hit has empty text; its number and offset are those
/// of the first matching line in the binary part.
/// </summary>
public sealed record LogHit(LogHitKind Kind, long LineNumber, long Offset, string Text, bool Cut = false);
