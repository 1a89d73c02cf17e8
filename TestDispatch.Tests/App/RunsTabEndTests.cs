using Terminal.Gui.Input;
using TestDispatch.Engine;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

/// <summary>
/// The Runs tab over more runs than a page (issue 31, item 8): its header never claims the page is all there is, and G (or
/// End) goes to the oldest run, not to the end of the pages loaded so far. Before, 1042 runs read '1000 runs' until
/// scrolled, and the first G stopped at the thousandth.
/// </summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class RunsTabEndTests : IDisposable
{
    private const int Total = ScreenQuery.RunsPage + 42;

    private readonly HeadlessApp _ui = new(100, 24);
    private readonly Lab _lab;
    private readonly string _oldest;
    private readonly string _newest;

    public RunsTabEndTests()
    {
        FakeStateDir dir = new();
        RunStore store = dir.Open(new StoreOptions { RecentRuns = 10, SegmentRuns = 100 });
        List<string> ids = [];
        for (int i = 0; i < Total; i++)
        {
            ids.Add(store.Update(store.Prepare(Request(hash: $"h{i}")).Run.Id, r => Finished(Running(r))).Id);
            if (i % 400 == 399)
            {
                store.Compact();
            }
        }
        (_oldest, _newest) = (ids[0], ids[^1]);
        _lab = new Lab(new LabConfig(FakeStateDir.Root, new RunDefaults(["./run.sh"], TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(1)),
            [new Machine { Name = "m1", Transport = TransportKind.Local }]), store, dir.Fs, dir.Locks);
    }

    public void Dispose() => _ui.Dispose();

    [Fact]
    public void The_header_says_a_full_page_may_have_more_and_G_goes_to_the_oldest_run()
    {
        using MainWindow window = new(_ui.App, _lab, new Theme(true));
        _ui.Show(window);
        string first = _ui.WaitFor(_newest);

        _ui.Press(new Key('G'));
        string end = _ui.WaitFor(s => s.Contains(_oldest, StringComparison.Ordinal), "the oldest run after one G");

        Assert.Contains($"{ScreenQuery.RunsPage}+ runs", first, StringComparison.Ordinal);
        Assert.Contains($"{Total} runs", end, StringComparison.Ordinal);
        Assert.DoesNotContain("+ runs", end, StringComparison.Ordinal);
        Assert.DoesNotContain("loading every run", end, StringComparison.Ordinal);
    }
}
