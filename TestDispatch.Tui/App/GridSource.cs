using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.App;

/// <summary>
/// One column of a <see cref="ListGrid"/>: its header, the width it may take (as wide as its widest text on screen,
/// within these bounds; the last column shown takes what is left of the line), how a text too long for it is cut (so that
/// what tells rows apart stays), and how much it matters: on a narrow screen the columns of least importance (highest
/// <paramref name="Priority"/>) give up width first, down to their minimum, and go altogether when even their minimums
/// do not fit.
/// </summary>
public sealed record GridColumn(string Name, int MinWidth, int MaxWidth, Cut Cut = Cut.KeepStart, int Priority = 0);

/// <summary>Which part of a text too long for its column stays on screen.</summary>
public enum Cut
{
    /// <summary>Its start, with '…' at the end: free text (a note, tags).</summary>
    KeepStart,

    /// <summary>Its end, with '…' at the start: paths, whose last parts name the test.</summary>
    KeepEnd,

    /// <summary>Both ends, with '…' in the middle: names and hosts (rig-07-a and rig-07-b, a host's port).</summary>
    KeepBoth,

    /// <summary>Its first word is never cut (a state: 'interrupted', 'unreachable'): the column is never narrower; what follows may be.</summary>
    KeepWord,
}

/// <summary>
/// What a <see cref="ListGrid"/> shows: rows of text cells, asked for only for the rows on screen, so a list of 100k
/// runs costs one list of references, not 100k rows of text. Each row has a key that names it across refreshes (its
/// id), so the selection stays on the same item when rows are added or moved.
/// </summary>
public abstract class GridSource
{
    public abstract IReadOnlyList<GridColumn> Columns { get; }

    public abstract int Rows { get; }

    public abstract string Cell(int row, int column);

    public abstract string Key(int row);

    /// <summary>The column drawn in the colour of <see cref="Status"/>, or -1 for none.</summary>
    public virtual int StatusColumn => -1;

    /// <summary>The status whose colour the row's status cell takes (docs/DESIGN.md §9), or null for none.</summary>
    public virtual RunStatus? Status(int row) => null;

    /// <summary>A column of status letters, each drawn in its own status colour (<see cref="LetterStatus"/>), or -1 for none.</summary>
    public virtual int LettersColumn => -1;

    /// <summary>The status whose colour letter <paramref name="index"/> of the row's <see cref="LettersColumn"/> takes, or null.</summary>
    public virtual RunStatus? LetterStatus(int row, int index) => null;

    /// <summary>The row whose key this is, or -1.</summary>
    public virtual int RowOf(string key)
    {
        for (int row = 0; row < Rows; row++)
        {
            if (Key(row) == key)
            {
                return row;
            }
        }
        return -1;
    }
}
