using TestDispatch.Engine.Storage;

// In the engine's Transports namespace on purpose: a type that breaks the layering (a transport that reaches into the
// store), for ArchitectureTests to prove that its rule fails, naming both types. Loaded only by that test.
namespace TestDispatch.Engine.Transports;

internal static class ArchitectureProbe
{
    public static string RootOf(RunStore store) => store.Paths.Root;
}
