using TestDispatch.Engine.Errors;

namespace TestDispatch.Engine.Storage;

internal static class StateCorruption
{
    public static DispatchException At(string path, string detail, Exception? inner = null) => new(
        ErrorCodes.StateCorrupt,
        $"state file {path} is damaged ({detail}). Nothing was changed. " +
        "Run 'testdispatch doctor --repair' to keep a backup of it and rebuild the store from what is readable.",
        inner: inner);
}
