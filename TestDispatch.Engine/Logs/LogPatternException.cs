namespace TestDispatch.Engine.Logs;

/// <summary>
/// A search pattern that cannot be used: not a valid regular expression, or one that backtracks for too long. The
/// message names the pattern and the reason; a face reports it as bad input.
/// </summary>
public sealed class LogPatternException(string pattern, string message, Exception? inner = null)
    : ArgumentException(message, inner)
{
    public string Pattern { get; } = pattern;
}
