namespace TestDispatch.Engine.Logs;

/// <summary>Finds where the last N lines of a log start by reading backwards from the end: a gigabyte log costs a few blocks.</summary>
public static class LogTail
{
    public static long StartOfLastLines(Stream log, int lines)
    {
        long end = log.Length;
        if (lines <= 0 || end == 0)
        {
            return end;
        }
        byte[] block = new byte[64 * 1024];
        long position = end;
        int newlines = 0;
        while (position > 0)
        {
            int size = (int)Math.Min(block.Length, position);
            position -= size;
            log.Seek(position, SeekOrigin.Begin);
            log.ReadExactly(block, 0, size);
            for (int i = size - 1; i >= 0; i--)
            {
                // The newline ending the last line does not start another line.
                if (block[i] == (byte)'\n' && position + i != end - 1 && ++newlines == lines)
                {
                    return position + i + 1;
                }
            }
        }
        return 0;
    }
}
