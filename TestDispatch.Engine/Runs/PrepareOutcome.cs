namespace TestDispatch.Engine.Runs;

/// <summary>What an atomic prepare did (docs/DESIGN.md §4.2). Callers branch on <see cref="Kind"/>.</summary>
/// <param name="BeingCancelled">For <see cref="PrepareKind.Busy"/>: the occupying run is being cancelled (it is never reused).</param>
public sealed record PrepareOutcome(PrepareKind Kind, Run Run, bool BeingCancelled = false);

public enum PrepareKind
{
    /// <summary>A fresh pending run was created.</summary>
    Created,

    /// <summary>A non-terminal run of the same test dir hash on this machine exists; the caller gets it.</summary>
    Reused,

    /// <summary>The machine is occupied by a non-terminal run of another hash; that run is returned.</summary>
    Busy,
}
