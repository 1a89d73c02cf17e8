using System.Buffers.Text;
using System.Text.Json;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// Token and value reads for <see cref="StoreJsonReader"/>. Every way a value can be wrong (wrong type, out of range,
/// not UTF-8, the data ending early) becomes a <see cref="JsonException"/>, the one exception the store reports as damage.
/// The <c>Next…</c> reads first move from a property name to its value.
/// </summary>
internal static class Utf8JsonReaderExtensions
{
    public static JsonTokenType Next(this ref Utf8JsonReader reader) =>
        reader.Read() ? reader.TokenType : throw new JsonException("the JSON ends in the middle of a value");

    /// <summary>Moves to the next property name of the current object; false at its end.</summary>
    public static bool NextProperty(this ref Utf8JsonReader reader) => reader.Next() == JsonTokenType.PropertyName;

    public static void ExpectObject(this ref Utf8JsonReader reader, string what)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"expected {what} (an object), found {reader.TokenType}");
        }
    }

    public static void NextArray(this ref Utf8JsonReader reader, string property)
    {
        if (reader.Next() != JsonTokenType.StartArray)
        {
            throw new JsonException($"'{property}' is not an array");
        }
    }

    /// <summary>Nothing but white space may follow a top-level value (the reader itself throws on anything else).</summary>
    public static void ExpectEnd(this ref Utf8JsonReader reader, string what)
    {
        if (reader.Read())
        {
            throw new JsonException($"more JSON follows {what}");
        }
    }

    public static string NextString(this ref Utf8JsonReader reader)
    {
        reader.Next();
        return reader.CurrentString();
    }

    public static string CurrentString(this ref Utf8JsonReader reader)
    {
        reader.ExpectString();
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw NotUtf8(e);
        }
    }

    /// <summary>Copies the string the reader is on into <paramref name="buffer"/> (as long as its UTF-8, at least); returns its length.</summary>
    public static int CopyCurrentString(this ref Utf8JsonReader reader, scoped Span<char> buffer)
    {
        try
        {
            return reader.CopyString(buffer);
        }
        catch (InvalidOperationException e)
        {
            throw NotUtf8(e);
        }
    }

    public static void ExpectString(this ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"expected a string, found {reader.TokenType}");
        }
    }

    public static long NextInt64(this ref Utf8JsonReader reader) =>
        reader.Next() == JsonTokenType.Number && reader.TryGetInt64(out long value) ? value : throw new JsonException("expected an integer");

    public static int NextInt32(this ref Utf8JsonReader reader) =>
        reader.NextNullableInt32() ?? throw new JsonException("expected a 32-bit integer, found null");

    public static int? NextNullableInt32(this ref Utf8JsonReader reader)
    {
        if (reader.Next() == JsonTokenType.Null)
        {
            return null;
        }
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int value) ? value : throw new JsonException("expected a 32-bit integer");
    }

    public static bool? NextNullableBoolean(this ref Utf8JsonReader reader) => reader.Next() switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw new JsonException("expected true or false"),
    };

    /// <summary>An ISO 8601 date and time with its offset as written, or null.</summary>
    public static DateTimeOffset? NextTimestamp(this ref Utf8JsonReader reader)
    {
        if (reader.Next() == JsonTokenType.Null)
        {
            return null;
        }
        return reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out DateTimeOffset value)
            ? value
            : throw new JsonException("a timestamp is not an ISO 8601 date and time");
    }

    /// <summary>A TimeSpan as System.Text.Json writes it ("c" format: [-][d.]hh:mm:ss[.fffffff]).</summary>
    public static TimeSpan NextDuration(this ref Utf8JsonReader reader)
    {
        reader.Next();
        reader.ExpectString();
        return !reader.ValueIsEscaped && Utf8Parser.TryParse(reader.ValueSpan, out TimeSpan value, out int used, 'c') && used == reader.ValueSpan.Length
            ? value
            : throw new JsonException("a duration is not in the form [d.]hh:mm:ss[.fffffff]");
    }

    public static JsonException Missing(string property) => new($"'{property}' is missing");

    /// <summary>The reader checks a string's UTF-8 only when it transcodes it, and throws InvalidOperationException.</summary>
    private static JsonException NotUtf8(InvalidOperationException e) => new($"a string is not valid UTF-8: {e.Message}", e);
}
