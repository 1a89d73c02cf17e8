using System.Text;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// Finds a fixed string in UTF-8 bytes, vectorized. Searching bytes spares decoding the gigabytes that do not match:
/// only the lines around a hit are ever decoded.
/// </summary>
internal abstract class ByteFinder
{
    public abstract int Length { get; }

    /// <summary>The index of the first occurrence in <paramref name="haystack"/>, or -1.</summary>
    public abstract int IndexOf(ReadOnlySpan<byte> haystack);

    /// <summary>
    /// A finder for <paramref name="text"/>, or null when <paramref name="ignoreCase"/> asks for a non-ASCII text to be
    /// folded: byte folding is only right for ASCII letters, so such a text goes to the regex engine instead.
    /// </summary>
    public static ByteFinder? For(string text, bool ignoreCase)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        if (!ignoreCase)
        {
            return new ExactFinder(bytes);
        }
        if (!Ascii.IsValid(bytes))
        {
            return null;
        }
        bool hasLetter = bytes.AsSpan().IndexOfAnyInRange((byte)'A', (byte)'Z') >= 0 || bytes.AsSpan().IndexOfAnyInRange((byte)'a', (byte)'z') >= 0;
        return hasLetter ? new AsciiFoldedFinder(bytes) : new ExactFinder(bytes);
    }
}

/// <summary>Case-sensitive: the runtime's IndexOf already compares the first and last bytes 32 at a time.</summary>
internal sealed class ExactFinder(byte[] needle) : ByteFinder
{
    public override int Length => needle.Length;

    public override int IndexOf(ReadOnlySpan<byte> haystack) => haystack.IndexOf(needle);
}
