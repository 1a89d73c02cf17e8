using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// The 64-bit key two lines are compared by: a hash of the line with its volatile tokens folded
/// (<see cref="VolatileTokens"/>). A line that is not valid UTF-8 is compared as raw bytes, unfolded, so that two
/// different binary lines never meet as the same replacement chars. Beyond its first <see cref="ChunkBytes"/>
/// bytes a line is hashed raw in fixed chunks counted from its start, so a line read whole from memory and one
/// streamed from disk get the same key. Not thread-safe: it owns its scratch buffers.
/// </summary>
internal sealed class LineKeyer(bool fold)
{
    public const int ChunkBytes = 64 * 1024;

    private const ulong TextSeed = 0x7465787400000001, RawSeed = 0x7261770000000002;
    private readonly char[] _chars = new char[ChunkBytes];
    private readonly char[] _folded = new char[ChunkBytes];

    /// <summary>The key of a whole line held in memory (without its newline).</summary>
    public ulong Key(ReadOnlySpan<byte> line)
    {
        ulong key = Head(line[..Math.Min(line.Length, ChunkBytes)]);
        for (int at = ChunkBytes; at < line.Length; at += ChunkBytes)
        {
            key = Next(key, line.Slice(at, Math.Min(ChunkBytes, line.Length - at)));
        }
        return key;
    }

    /// <summary>The key of a line's first chunk; then <see cref="Next"/> for each further chunk.</summary>
    public ulong Head(ReadOnlySpan<byte> chunk)
    {
        if (!fold || !Utf8.IsValid(chunk))
        {
            return Hash(chunk, RawSeed);
        }
        int length = Encoding.UTF8.GetChars(chunk, _chars);
        int folded = VolatileTokens.FoldInto(_chars.AsSpan(0, length), _folded);
        return Hash(MemoryMarshal.AsBytes(_folded.AsSpan(0, folded)), TextSeed);
    }

    public static ulong Next(ulong key, ReadOnlySpan<byte> chunk) => Mix(key ^ (Hash(chunk, RawSeed) + 0x9E3779B97F4A7C15 + (key << 6) + (key >> 2)));

    /// <summary>A plain multiply-rotate hash, 8 bytes a step: equal keys are taken as equal lines (a 2^-64 risk per pair).</summary>
    private static ulong Hash(ReadOnlySpan<byte> bytes, ulong seed)
    {
        const ulong P1 = 0x9E3779B97F4A7C15, P2 = 0xC2B2AE3D27D4EB4F;
        ulong h = seed ^ ((ulong)bytes.Length * P1);
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(bytes);
        foreach (ulong word in words)
        {
            h = BitOperations.RotateLeft(h ^ (word * P2), 31) * P1;
        }
        ulong tail = 0;
        ReadOnlySpan<byte> rest = bytes[(words.Length * 8)..];
        for (int i = 0; i < rest.Length; i++)
        {
            tail |= (ulong)rest[i] << (8 * i);
        }
        return Mix(BitOperations.RotateLeft(h ^ (tail * P2), 31) * P1);
    }

    /// <summary>MurmurHash3's finalizer: every input bit reaches every output bit.</summary>
    private static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCD;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53;
        return h ^ (h >> 33);
    }
}
