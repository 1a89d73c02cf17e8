namespace TestDispatch.Engine.Results;

/// <summary>
/// Hands an XML reader the text of a report with its raw control characters already replaced
/// (<see cref="ControlCharacters"/>): one character for one, so the reader's line and position still point
/// into the file. <c>CheckCharacters = false</c> lets the reader accept <c>&amp;#27;</c>, but not a raw ESC.
/// </summary>
internal sealed class ControlCharacterFilter(TextReader inner) : TextReader
{
    public override int Peek() => Filter(inner.Peek());

    public override int Read() => Filter(inner.Read());

    public override int Read(char[] buffer, int index, int count)
    {
        int read = inner.Read(buffer, index, count);
        ControlCharacters.Replace(buffer.AsSpan(index, read));
        return read;
    }

    public override int Read(Span<char> buffer)
    {
        int read = inner.Read(buffer);
        ControlCharacters.Replace(buffer[..read]);
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    private static int Filter(int c)
    {
        if (c < 0)
        {
            return c;
        }
        Span<char> one = [(char)c];
        ControlCharacters.Replace(one);
        return one[0];
    }
}
