using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// Finds an ASCII needle ignoring ASCII case, with the "packed pair" filter of memchr's memmem: compare two of the
/// needle's bytes (the two rarest in log text) at every position of a 32-byte block at once, a letter folded by OR-ing
/// 0x20 (which maps 'A' to 'a' and no other byte onto a letter), and check the whole needle only where both agree.
/// </summary>
internal sealed class AsciiFoldedFinder : ByteFinder
{
    // Bytes of log text from most to least frequent, roughly (English letters by frequency after space and digits);
    // a byte not listed is rarer than all of these.
    private const string Frequent = " etaoinsr0123456789lhdcu.:-=/_mpfgwybvkxjqz";

    private readonly byte[] _needle;
    private readonly int _first, _last; // the needle offsets compared, _first < _last unless the needle is one byte
    private readonly byte _firstMask, _firstValue, _lastMask, _lastValue;

    public AsciiFoldedFinder(byte[] asciiNeedle)
    {
        _needle = asciiNeedle;
        if (asciiNeedle.Length == 0)
        {
            return;
        }
        int[] byRarity = [.. Enumerable.Range(0, asciiNeedle.Length).OrderByDescending(i => Rank(asciiNeedle[i]))];
        int second = byRarity.Skip(1).FirstOrDefault(i => (asciiNeedle[i] | 0x20) != (asciiNeedle[byRarity[0]] | 0x20), byRarity[^1]);
        (_first, _last) = (Math.Min(byRarity[0], second), Math.Max(byRarity[0], second));
        (_firstMask, _firstValue) = Folded(asciiNeedle[_first]);
        (_lastMask, _lastValue) = Folded(asciiNeedle[_last]);
    }

    public override int Length => _needle.Length;

    public override int IndexOf(ReadOnlySpan<byte> haystack)
    {
        int n = _needle.Length;
        if (n == 0)
        {
            return 0;
        }
        int lastStart = haystack.Length - n;
        int i = 0;
        ref byte h = ref MemoryMarshal.GetReference(haystack);
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<byte> fm = Vector256.Create(_firstMask), fv = Vector256.Create(_firstValue);
            Vector256<byte> lm = Vector256.Create(_lastMask), lv = Vector256.Create(_lastValue);
            for (; i <= lastStart - Vector256<byte>.Count + 1; i += Vector256<byte>.Count)
            {
                Vector256<byte> first = Vector256.LoadUnsafe(ref h, (nuint)(i + _first)) | fm;
                Vector256<byte> last = Vector256.LoadUnsafe(ref h, (nuint)(i + _last)) | lm;
                uint bits = (Vector256.Equals(first, fv) & Vector256.Equals(last, lv)).ExtractMostSignificantBits();
                for (; bits != 0; bits &= bits - 1)
                {
                    int at = i + BitOperations.TrailingZeroCount(bits);
                    if (Ascii.EqualsIgnoreCase(haystack.Slice(at, n), _needle))
                    {
                        return at;
                    }
                }
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<byte> fm = Vector128.Create(_firstMask), fv = Vector128.Create(_firstValue);
            Vector128<byte> lm = Vector128.Create(_lastMask), lv = Vector128.Create(_lastValue);
            for (; i <= lastStart - Vector128<byte>.Count + 1; i += Vector128<byte>.Count)
            {
                Vector128<byte> first = Vector128.LoadUnsafe(ref h, (nuint)(i + _first)) | fm;
                Vector128<byte> last = Vector128.LoadUnsafe(ref h, (nuint)(i + _last)) | lm;
                uint bits = (Vector128.Equals(first, fv) & Vector128.Equals(last, lv)).ExtractMostSignificantBits();
                for (; bits != 0; bits &= bits - 1)
                {
                    int at = i + BitOperations.TrailingZeroCount(bits);
                    if (Ascii.EqualsIgnoreCase(haystack.Slice(at, n), _needle))
                    {
                        return at;
                    }
                }
            }
        }
        for (; i <= lastStart; i++)
        {
            if ((Unsafe.Add(ref h, i + _first) | _firstMask) == _firstValue && (Unsafe.Add(ref h, i + _last) | _lastMask) == _lastValue
                && Ascii.EqualsIgnoreCase(haystack.Slice(i, n), _needle))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Higher for rarer bytes.</summary>
    private static int Rank(byte b)
    {
        int at = Frequent.IndexOf((char)(b | (char.IsAsciiLetter((char)b) ? 0x20 : 0)), StringComparison.Ordinal);
        return at < 0 ? Frequent.Length : at;
    }

    private static (byte Mask, byte Value) Folded(byte b) =>
        char.IsAsciiLetter((char)b) ? ((byte)0x20, (byte)(b | 0x20)) : ((byte)0, b);
}
