using System.Diagnostics;
using System.IO.Abstractions;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Engine.Storage;

namespace TestDispatch.Tests.Fixture.Commands;

/// <summary>
/// Hammers one state dir with prepares and updates, as one of several concurrent processes. Runs it
/// creates stay open for a few iterations, so other workers meet them as busy or reusable; on a reuse
/// it appends a unique token to the run's error_msg, a read-modify-write that a lost update would drop.
/// Every acknowledged write is printed (see <see cref="HammerEvent"/>) for the test to check against the store.
/// </summary>
internal sealed class HammerCommand(RunStore store, string worker, int machineCount)
{
    private static readonly string[] Hashes = ["aaaa1111", "bbbb2222"];
    private static readonly RunSpec Spec = new(["./run-test.sh"], TimeSpan.FromMinutes(5));

    /// <summary>My runs that are not terminal yet. Only their creator moves them, so this is always true.</summary>
    private readonly List<OpenRun> _open = [];

    private readonly List<string> _violations = [];
    private int _created;
    private int _reused;
    private int _busy;
    private int _reusedFromOther;
    private int _busyByOther;
    private int _writes;
    private TimeSpan _maxCall;

    /// <param name="history">Compact into history segments often (a few runs each), so workers meet segments being written.</param>
    public static int Run(string stateDir, string worker, int iterations, int machineCount, int? compactAfterLines, bool history = false)
    {
        StoreOptions options = compactAfterLines is { } lines ? new StoreOptions { CompactAfterLines = lines } : new StoreOptions();
        if (history)
        {
            options = options with { RecentRuns = 3, SegmentRuns = 5 };
        }
        HammerCommand hammer = new(new RunStore(new FileSystem(), new FlockFileLocks(), stateDir, options: options), worker, machineCount);
        new HammerEvent("ready", worker).Print();
        for (int i = 0; i < iterations; i++)
        {
            hammer.Step(i);
        }
        hammer.FinishOpenRuns();
        hammer.PrintSummary();
        return 0;
    }

    private void Step(int iteration)
    {
        if (_open.Count > 0 && Random.Shared.Next(2) == 0)
        {
            Advance(_open[Random.Shared.Next(_open.Count)]);
        }
        else
        {
            Prepare(iteration);
        }
    }

    private void FinishOpenRuns()
    {
        while (_open.Count > 0)
        {
            Advance(_open[0]);
        }
    }

    private void Prepare(int iteration)
    {
        string machine = $"m{Random.Shared.Next(machineCount)}";
        string hash = Hashes[Random.Shared.Next(Hashes.Length)];
        PrepareOutcome outcome = Timed(() => store.Prepare(new PrepareRequest(machine, $"/lab/tests/{hash}", hash, Spec, PlanEntry: worker)));
        Run run = outcome.Run;
        OpenRun? mine = _open.Find(o => o.Machine == machine);

        Expect(run.Machine == machine, $"prepare on {machine} returned {run.Id} of machine {run.Machine}");
        switch (outcome.Kind)
        {
            case PrepareKind.Created:
                Expect(mine is null, $"created {run.Id} on {machine} while my run {mine?.Id} there is still {mine?.Status}");
                Expect(run.Status == RunStatus.Pending && run.TestDirHash == hash, $"created {run.Id} is {run.Status}/{run.TestDirHash}, not pending/{hash}");
                _created++;
                _open.Add(new OpenRun(run.Id, machine, RunStatus.Pending));
                Acknowledge(new HammerEvent("created", Id: run.Id, Machine: machine));
                break;

            case PrepareKind.Reused:
                Expect(!run.Status.IsTerminal() && run.TestDirHash == hash, $"reused {run.Id} is {run.Status}/{run.TestDirHash}, not active/{hash}");
                Expect(mine is null || mine.Id == run.Id, $"reused {run.Id} on {machine} although my active run there is {mine?.Id}");
                _reused++;
                _reusedFromOther += run.PlanEntry == worker ? 0 : 1;
                Note(run.Id, $"{worker}:{iteration}");
                break;

            case PrepareKind.Busy:
                Expect(!run.Status.IsTerminal() && run.TestDirHash != hash, $"busy with {run.Id} which is {run.Status}/{run.TestDirHash} (asked {hash})");
                Expect(mine is null || mine.Id == run.Id, $"busy with {run.Id} on {machine} although my active run there is {mine?.Id}");
                _busy++;
                _busyByOther += run.PlanEntry == worker ? 0 : 1;
                break;
        }
    }

    private void Advance(OpenRun open)
    {
        if (open.Status == RunStatus.Pending)
        {
            RunRecord after = Timed(() => store.Update(open.Id, r => r with
            {
                Run = r.Run with { Status = RunStatus.Running, StartedAt = DateTimeOffset.UtcNow },
            }));
            Expect(after.Run.Status == RunStatus.Running, $"{open.Id} is {after.Run.Status} after I set it running");
            _open[_open.IndexOf(open)] = open with { Status = RunStatus.Running };
            Acknowledge(new HammerEvent("running", Id: open.Id));
        }
        else
        {
            RunRecord after = Timed(() => store.Update(open.Id, r => r with
            {
                Run = r.Run with { Status = RunStatus.Completed, ExitCode = 0, EndedAt = DateTimeOffset.UtcNow },
            }));
            Expect(after.Run.Status == RunStatus.Completed, $"{open.Id} is {after.Run.Status} after I completed it");
            _open.Remove(open);
            Acknowledge(new HammerEvent("completed", Id: open.Id));
        }
    }

    /// <summary>Appends <paramref name="token"/> to the run's error_msg unless it has ended meanwhile (then nothing is written).</summary>
    private void Note(string id, string token)
    {
        RunRecord after = Timed(() => store.Update(id, r => r.Run.Status.IsTerminal()
            ? r
            : r with { Run = r.Run with { ErrorMsg = r.Run.ErrorMsg + token + ";" } }));
        if (after.Run.ErrorMsg.Split(';').Contains(token))
        {
            Acknowledge(new HammerEvent("note", Id: id, Token: token));
        }
    }

    private void Acknowledge(HammerEvent written)
    {
        _writes++;
        written.Print();
    }

    private T Timed<T>(Func<T> call)
    {
        Stopwatch took = Stopwatch.StartNew();
        T result = call();
        _maxCall = took.Elapsed > _maxCall ? took.Elapsed : _maxCall;
        return result;
    }

    private void Expect(bool condition, string violation)
    {
        if (!condition)
        {
            _violations.Add($"{worker}: {violation}");
        }
    }

    private void PrintSummary() => new HammerEvent("summary", Summary: new HammerSummary(
        worker, _created, _reused, _busy, _reusedFromOther, _busyByOther, _writes, Math.Round(_maxCall.TotalMilliseconds, 1), _violations)).Print();

    private sealed record OpenRun(string Id, string Machine, RunStatus Status);
}
