using Terminal.Gui.App;
using TestDispatch.Engine.Errors;

namespace TestDispatch.Tui.App;

/// <summary>
/// Runs an engine action (cancel, re-run, …) off the UI thread and hands its one-line result, or the engine's error
/// as "code: message", back on the UI thread: the views never wait on disk or processes.
/// </summary>
public static class EngineAction
{
    public static Task Run(IApplication app, Func<Task<string>> action, Action<string> report) => Task.Run(async () =>
    {
        string result;
        try
        {
            result = await action();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            DispatchException coded = DispatchException.From(e);
            result = $"{coded.ErrorCode}: {coded.Message}";
        }
        app.Invoke(() => report(result.ReplaceLineEndings(" ")));
    });
}
