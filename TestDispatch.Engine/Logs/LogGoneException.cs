namespace TestDispatch.Engine.Logs;

/// <summary>
/// A log that is not there to read: missing when opened (never written, or pruned with its run), or truncated below
/// what was already read while a search or diff was reading it. A log deleted after it was opened is read to its end
/// as it was: Linux keeps an open file's content until the last handle closes. Walks of history skip such a run.
/// </summary>
public sealed class LogGoneException(string path, string message, Exception? inner = null) : IOException(message, inner)
{
    public string LogPath { get; } = path;

    internal static LogGoneException Missing(string path, Exception inner) =>
        new(path, $"log '{path}' is gone: {inner.Message}", inner);

    internal static LogGoneException Shrank(string path, long length, long read) =>
        new(path, $"log '{path}' was truncated while being read: {length} bytes left, {read} already read");
}
