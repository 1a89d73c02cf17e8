using System.Buffers;
using System.Globalization;
using System.Text;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// The text of a line for a hit: UTF-8 decoded with invalid bytes replaced, at most a bounded number of bytes of it,
/// taken around the match and marked with "…" where bytes are left out. A cut never splits a UTF-8 sequence.
/// </summary>
internal static class LineText
{
    public const string Marker = "…";

    /// <summary>
    /// Up to <paramref name="maxBytes"/> bytes of <paramref name="bytes"/> around <paramref name="matchAt"/>.
    /// <paramref name="startsMidLine"/> and <paramref name="endsMidLine"/> say that the line extends beyond the bytes given.
    /// </summary>
    public static (string Text, bool Cut) Around(ReadOnlySpan<byte> bytes, int matchAt, int maxBytes,
        bool startsMidLine = false, bool endsMidLine = false)
    {
        int start = 0, end = bytes.Length;
        if (bytes.Length > maxBytes)
        {
            // A quarter of the room before the match, the rest after it: the match and what follows is what one reads.
            start = Math.Clamp(matchAt - maxBytes / 4, 0, bytes.Length - maxBytes);
            end = start + maxBytes;
        }
        bool cutBefore = start > 0 || startsMidLine, cutAfter = end < bytes.Length || endsMidLine;
        for (int i = 0; cutBefore && i < 3 && start < end && IsContinuation(bytes[start]); i++)
        {
            start++;
        }
        for (int i = 0; end < bytes.Length && i < 3 && end > start && IsContinuation(bytes[end]); i++)
        {
            end--;
        }
        string text = Encoding.UTF8.GetString(bytes[start..end]);
        if (!cutBefore && !cutAfter)
        {
            return (text, false);
        }
        return ((cutBefore ? Marker : "") + text + (cutAfter ? Marker : ""), true);
    }

    /// <summary>
    /// A line for a diff: valid UTF-8 as text, each invalid byte and each control character but tab as \xNN (a binary
    /// line stays readable and cannot drive the terminal); "…" appended when <paramref name="cut"/>.
    /// </summary>
    public static string Escaped(ReadOnlySpan<byte> bytes, bool cut)
    {
        StringBuilder text = new(bytes.Length + 8);
        while (!bytes.IsEmpty)
        {
            OperationStatus status = Rune.DecodeFromUtf8(bytes, out Rune rune, out int consumed);
            if (status == OperationStatus.Done && (rune.Value == '\t' || !Rune.IsControl(rune)))
            {
                text.Append(rune.ToString());
            }
            else if (status == OperationStatus.Done)
            {
                string escaped = rune.Value < 0x80 ? $"\\x{rune.Value:x2}" : $"\\u{rune.Value:x4}";
                text.Append(escaped);
            }
            else
            {
                // Invalid or cut short (the cut may split a sequence): show the bytes.
                foreach (byte b in bytes[..consumed])
                {
                    text.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
                }
            }
            bytes = bytes[consumed..];
        }
        return cut ? text.ToString() + Marker : text.ToString();
    }

    private static bool IsContinuation(byte b) => (b & 0xC0) == 0x80;
}
