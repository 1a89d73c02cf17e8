using TestDispatch.Engine.Errors;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>grep</c> and <c>diff</c> keep the exit codes of the tools they are named after: 0 and 1 are answers (a hit or none;
/// alike or not), 2 is trouble of any kind, said as the one coded line every failure is. Ctrl-C stays 130.
/// </summary>
public static class AnswerOrTrouble
{
    public const int Trouble = 2;

    public static async Task<int> RunAsync(CliConsole console, Func<Task<int>> answer)
    {
        try
        {
            return await answer();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            DispatchException coded = DispatchException.From(e);
            await console.Error.WriteLineAsync($"testdispatch: {coded.ErrorCode}: {coded.Message}");
            return Trouble;
        }
    }
}
