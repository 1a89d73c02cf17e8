using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;

namespace TestDispatch.Tests.App;

[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class ListGridTests : IDisposable
{
    private readonly HeadlessApp _ui = new(width: 60, height: 12);
    private readonly Window _window = new();
    private readonly ListGrid _grid = new(new Theme(true)) { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };
    private readonly TestRows _rows = new();

    public ListGridTests()
    {
        for (int i = 0; i < 30; i++)
        {
            _rows.Items.Add(new Row($"run-{i:00}", RunStatus.Completed, $"/tests/t{i:00}"));
        }
        _grid.Source = _rows;
        _window.Add(_grid);
        _ui.Show(_window);
        _grid.SetFocus();
        Draw();
    }

    public void Dispose()
    {
        _ui.Dispose();
        _window.Dispose();
    }

    private void Draw() => _ui.App.LayoutAndDraw();

    private string Line(string text) =>
        _ui.Screen.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) ?? throw new InvalidOperationException($"'{text}' is not on screen:\n{_ui.Screen}");

    [Fact]
    public void Shows_a_header_and_the_rows_that_fit_with_the_first_selected()
    {
        string screen = _ui.Screen;

        Assert.Matches(@"ID\s+STATUS\s+TEST", screen);
        Assert.Matches(@"run-00\s+completed\s+/tests/t00", screen);
        Assert.Contains("run-08", screen, StringComparison.Ordinal); // 12 lines: border, header, 9 rows, border
        Assert.DoesNotContain("run-09", screen, StringComparison.Ordinal);
        Assert.Equal(0, _grid.SelectedRow);
    }

    [Fact]
    public void One_changed_row_rewrites_only_its_own_line()
    {
        _rows.Items[3] = _rows.Items[3] with { Status = RunStatus.Failed };
        _grid.Refresh();
        Draw();

        Assert.Matches(@"run-03\s+failed", _ui.Screen);
        Assert.Equal(1, _grid.LinesWritten);
    }

    [Fact]
    public void A_redraw_with_nothing_changed_writes_nothing()
    {
        _grid.SetNeedsDraw();
        Draw();

        Assert.Equal(0, _grid.LinesWritten);
    }

    [Fact]
    public void A_line_something_else_drew_over_is_drawn_again()
    {
        int y = _ui.Screen.Split('\n').ToList().FindIndex(l => l.Contains("run-04", StringComparison.Ordinal));
        _ui.App.Driver!.Move(3, y);
        _ui.App.Driver.AddStr("XXXXXXXX");
        Assert.DoesNotContain("run-04", _ui.Screen, StringComparison.Ordinal);

        _grid.SetNeedsDraw();
        Draw();

        Assert.Matches(@"run-04\s+completed\s+/tests/t04", _ui.Screen);
        Assert.Equal(1, _grid.LinesWritten);
    }

    [Fact]
    public void The_status_takes_its_colour_and_the_selected_row_its_own()
    {
        _rows.Items[2] = _rows.Items[2] with { Status = RunStatus.Failed };
        _grid.Refresh();
        Draw();

        Assert.Equal(new Color(ColorName16.Red), ForegroundOf("failed"));
        Assert.NotEqual(ForegroundOf("run-00"), ForegroundOf("run-01")); // run-00 is selected
    }

    [Fact]
    public void The_selection_stays_on_its_row_when_rows_arrive_on_top()
    {
        _ui.Press(new Key('j'), new Key('j'));
        Assert.Equal(2, _grid.SelectedRow);

        _rows.Items.InsertRange(0, [new Row("new-1", RunStatus.Pending, "/x"), new Row("new-2", RunStatus.Pending, "/y")]);
        _grid.Refresh();
        Draw();

        Assert.Equal(4, _grid.SelectedRow);
        Assert.Equal("run-02", _rows.Key(_grid.SelectedRow));
        Assert.Equal(0, _grid.TopRow); // at the top, the view stays there so the new rows show
        Assert.Contains("new-1", _ui.Screen, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrolled_down_the_selected_row_keeps_its_place_on_screen_as_rows_arrive()
    {
        _ui.Press(Key.PageDown, Key.PageDown);
        int top = _grid.TopRow;
        string selected = _rows.Key(_grid.SelectedRow);
        Assert.True(top > 0);

        _rows.Items.Insert(0, new Row("new-1", RunStatus.Pending, "/x"));
        _grid.Refresh();

        Assert.Equal(selected, _rows.Key(_grid.SelectedRow));
        Assert.Equal(top + 1, _grid.TopRow);
    }

    [Fact]
    public void Keys_move_the_selection_and_scroll_it_into_view()
    {
        _ui.Press(new Key('G'));
        Assert.Equal(29, _grid.SelectedRow);
        Assert.Contains("run-29", _ui.Screen, StringComparison.Ordinal);
        Assert.DoesNotContain("run-00", _ui.Screen, StringComparison.Ordinal);

        _ui.Press(new Key('k'), Key.CursorUp);
        Assert.Equal(27, _grid.SelectedRow);

        _ui.Press(new Key('g'));
        Assert.Equal(0, _grid.SelectedRow);
        Assert.Contains("run-00", _ui.Screen, StringComparison.Ordinal);

        _ui.Press(Key.End, Key.Home, Key.CursorDown);
        Assert.Equal(1, _grid.SelectedRow);
    }

    [Fact]
    public void Enter_accepts_the_selected_row()
    {
        string? accepted = null;
        _grid.Accepting += (_, e) =>
        {
            e.Handled = true;
            accepted = _rows.Key(_grid.SelectedRow);
        };

        _ui.Press(new Key('j'), Key.Enter);

        Assert.Equal("run-01", accepted);
    }

    [Fact]
    public void A_long_path_keeps_its_end_and_a_wide_character_shows_as_a_question_mark()
    {
        _rows.Items[0] = _rows.Items[0] with { Test = "/lab/suites/" + new string('d', 80) + "/storage/fio-randwrite" };
        _rows.Items[1] = _rows.Items[1] with { Test = "/tests/テスト" };
        _grid.Refresh();
        Draw();

        Assert.Matches(@"run-00\s+completed\s+…d*/storage/fio-randwrite\s*│", _ui.Screen);
        Assert.Contains("/tests/???", Line("run-01"), StringComparison.Ordinal);
    }

    [Fact]
    public void On_a_narrow_screen_the_columns_before_the_last_give_up_width_down_to_their_minimums_but_a_state_word_stays_whole()
    {
        _rows.Items[0] = new Row("run-00-abcdef", RunStatus.Interrupted, "/tests/t00");
        _grid.Width = 26; // ID 12 + STATUS 11 + TEST's minimum 4 + gaps = 30: four columns too many, which the ID gives up
        _grid.Refresh();
        Draw();

        Assert.Contains(" run-00-… interrupted …t00", Line("run-00"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/tests/\u0E01\u0E33\u0E25-end", "/tests/?\u0E25-end")] // Thai: a letter and a spacing mark make one cluster
    [InlineData("/tests/\u0E01\u0E33\u0E33x-end", "/tests/?x-end")] // a cluster of three chars
    [InlineData("/tests/e\u0301-end", "/tests/?-end")] // e + a combining acute accent
    [InlineData("/tests/caf\u00e9-end", "/tests/caf\u00e9-end")] // a precomposed letter is one char in one column
    [InlineData("/tests/\U0001F600-end", "/tests/?-end")] // an emoji: two chars, two columns
    public void A_cluster_of_several_chars_shows_as_one_question_mark_and_leaves_the_line_aligned(string test, string shown)
    {
        _rows.Items[1] = _rows.Items[1] with { Test = test };
        _grid.Refresh();
        Draw();
        string line = Line("run-01");

        _grid.SetNeedsDraw();
        Draw();

        Assert.Equal(Line("run-02").LastIndexOf('│'), line.LastIndexOf('│'));
        Assert.Contains(shown, line, StringComparison.Ordinal);
        Assert.Equal(0, _grid.LinesWritten); // what it drew is what the screen holds, so nothing is rewritten
    }

    [Fact]
    public void A_selected_row_filtered_out_is_selected_again_when_it_comes_back()
    {
        _ui.Press(new Key('j'), new Key('j'), new Key('j'));
        TestRows all = _rows;
        TestRows some = new();
        some.Items.AddRange(all.Items.Where(r => r.Id != "run-03"));

        _grid.Source = some;
        Assert.Equal(3, _grid.SelectedRow); // the row number stays: now run-04

        _grid.Source = all;
        Assert.Equal("run-03", all.Key(_grid.SelectedRow));
    }

    [Fact]
    public void With_no_rows_only_the_header_shows_and_nothing_is_selected()
    {
        _grid.Source = new TestRows();
        Draw();

        Assert.Equal(-1, _grid.SelectedRow);
        Assert.Matches(@"ID\s+STATUS\s+TEST", _ui.Screen);
        Assert.DoesNotContain("run-", _ui.Screen, StringComparison.Ordinal);
    }

    private Color ForegroundOf(string word)
    {
        string[] lines = _ui.Screen.Split('\n');
        for (int row = 0; row < lines.Length; row++)
        {
            int col = lines[row].IndexOf(word, StringComparison.Ordinal);
            if (col >= 0)
            {
                return _ui.App.Driver!.Contents![row, col].Attribute!.Value.Foreground;
            }
        }
        throw new InvalidOperationException($"'{word}' is not on screen");
    }

    private sealed record Row(string Id, RunStatus Status, string Test);

    private sealed class TestRows : GridSource
    {
        private static readonly GridColumn[] Layout = [new("ID", 6, 12), new("STATUS", 9, 11, Cut.KeepWord), new("TEST", 4, int.MaxValue, Cut.KeepEnd)];

        public List<Row> Items { get; } = [];

        public override IReadOnlyList<GridColumn> Columns => Layout;

        public override int Rows => Items.Count;

        public override int StatusColumn => 1;

        public override RunStatus? Status(int row) => Items[row].Status;

        public override string Key(int row) => Items[row].Id;

        public override string Cell(int row, int column) => column switch
        {
            0 => Items[row].Id,
            1 => Items[row].Status.ToWord(),
            _ => Items[row].Test,
        };
    }
}
