using Terminal.Gui.Input;
using TestDispatch.Engine;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.App;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.App;

/// <summary>The Batches tab and the batch view, headless, on a real state dir (no agent: the tests move the runs).</summary>
[Trait("Category", "Terminal")]
[Collection("Terminal")]
public sealed class BatchViewsTests : IDisposable
{
    private readonly CliHarness _lab = new();
    private readonly HeadlessApp _ui = new();
    private readonly Lab _engine;

    public BatchViewsTests()
    {
        _engine = _lab.OpenLab(startsAgents: false);
    }

    public void Dispose()
    {
        _ui.Dispose();
        _lab.Dispose();
    }

    private BatchEntry Entry(string name, string machine) => new()
    {
        Name = name,
        TestDir = _lab.MakeTest(name, "exit 0"),
        TestDirHash = $"hash-{name}",
        Machine = machine,
        Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(1)),
    };

    /// <summary>A batch "nightly" of three entries: boot passed, gpu failed on local-2, soak still waiting for local-1.</summary>
    private (BatchRecord Batch, RunRecord Failed) Nightly()
    {
        BatchRecord batch = _engine.Store.AddBatch("nightly", "/plans/nightly.json",
            [Entry("boot", "local-1"), Entry("gpu", "local-2"), Entry("soak", "local-1")]);
        RunRecord boot = _engine.Store.TakeNext("local-1", [])!;
        _engine.Store.Update(boot.Id, r => Finished(Running(r)));
        RunRecord gpu = _engine.Store.TakeNext("local-2", [])!;
        gpu = _engine.Store.Update(gpu.Id, r => Finished(Running(r), RunStatus.Failed, 3));
        return (batch, gpu);
    }

    [Fact]
    public void The_batches_tab_shows_name_id_progress_bar_status_and_filters()
    {
        (BatchRecord batch, _) = Nightly();
        BatchRecord other = _engine.Store.AddBatch("weekly", "/plans/weekly.json", [Entry("x", "local-2")]);
        using MainWindow window = new(_ui.App, _engine, new Theme(false));
        _ui.Show(window);

        _ui.Press(new Key('3'));

        string screen = _ui.WaitFor(s => s.Contains("[3 Batches]", StringComparison.Ordinal) && s.Contains(batch.Id, StringComparison.Ordinal), "the batches tab");
        Assert.Matches($@"{batch.Id}\s+nightly\s+2/3\s+\[#############.......\]\s+1/1\s+running", screen);
        Assert.Contains(other.Id, screen, StringComparison.Ordinal);
        Assert.Contains("R  rerun failed", screen, StringComparison.Ordinal);

        _ui.Press(new Key('/'));
        _ui.Type("week");
        screen = _ui.WaitFor(s => !s.Contains(batch.Id, StringComparison.Ordinal), "the filter to hide nightly");
        Assert.Contains(other.Id, screen, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_batches_tab_says_how_to_make_one()
    {
        using MainWindow window = new(_ui.App, _engine, new Theme(false));
        _ui.Show(window);

        _ui.Press(new Key('3'));

        _ui.WaitFor("No batches yet");
    }

    [Fact]
    public void X_then_y_on_the_batches_tab_cancels_the_batch_and_drops_its_waiting_entries()
    {
        (BatchRecord batch, _) = Nightly();
        using MainWindow window = new(_ui.App, _engine, new Theme(false));
        _ui.Show(window);
        _ui.Press(new Key('3'));
        _ui.WaitFor(batch.Id);

        _ui.Press(new Key('x'));
        _ui.WaitFor("Cancel batch nightly");
        _ui.Press(new Key('y'));

        _ui.WaitFor(s => s.Contains("cancelled", StringComparison.Ordinal), "the batch to show cancelled");
        Batch after = _engine.ShowBatch(batch.Id);
        Assert.Equal(BatchStatus.Cancelled, after.Status);
        Assert.Equal("dropped", after.Items![2].Status);
    }

    [Fact]
    public void The_batch_view_lists_each_entry_with_its_run_and_updates_as_runs_move()
    {
        (BatchRecord batch, RunRecord failed) = Nightly();
        using BatchWindow view = new(_ui.App, _engine, new Theme(false), batch.Id);
        _ui.Show(view);

        string screen = _ui.WaitFor(failed.Id);
        Assert.Contains("RUNNING  2/3 [#############.......]  1 passed, 1 not, 0 running, 1 waiting", screen, StringComparison.Ordinal);
        Assert.Matches($@"gpu\s+local-2\s+failed\s+1\s+{failed.Id}\s+local-2\s+3", screen);
        Assert.Matches(@"soak\s+local-1\s+waiting\s+0\s+-", screen);

        RunRecord soak = _engine.Store.TakeNext("local-1", [])!;
        _engine.Store.Update(soak.Id, Running);

        _ui.WaitFor(s => s.Contains(soak.Id, StringComparison.Ordinal) && s.Contains("running", StringComparison.Ordinal), "the soak run to show");
    }

    [Fact]
    public void R_in_the_batch_view_submits_a_new_batch_of_the_entries_that_did_not_pass()
    {
        (BatchRecord batch, RunRecord failed) = Nightly();
        _engine.Store.CancelBatch(batch.Id);
        using BatchWindow view = new(_ui.App, _engine, new Theme(false), batch.Id);
        _ui.Show(view);
        _ui.WaitFor(failed.Id);

        _ui.Press(new Key('R'));

        _ui.WaitFor("new batch");
        Batch rerun = _engine.Batches()[0];
        Assert.Equal(batch.Id, rerun.RerunOf);
        Assert.Equal(["gpu", "soak"], _engine.ShowBatch(rerun.Id).Items!.Select(i => i.Name));
    }
}
