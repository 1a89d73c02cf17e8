using System.Globalization;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.Text;

/// <summary>How runs read for people, shared by the CLI and the TUI so both say the same thing.</summary>
public static class Format
{
    public static string Time(DateTimeOffset? time) =>
        time?.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";

    /// <summary>A time shortly, for lists: "08:57:07" today, "Nov 25 08:57" this year, else "2025-11-25" (local time).</summary>
    public static string When(DateTimeOffset? time, DateTimeOffset now)
    {
        if (time is not { } t)
        {
            return "-";
        }
        DateTime local = t.ToLocalTime().DateTime;
        DateTime today = now.ToLocalTime().Date;
        string format = local.Date == today ? "HH:mm:ss" : local.Year == today.Year ? "MMM dd HH:mm" : "yyyy-MM-dd";
        return local.ToString(format, CultureInfo.InvariantCulture);
    }

    public static string Duration(Run run) => run.Duration is { } d ? Engine.Configuration.Duration.Format(d) : "-";

    public static string Exit(Run run) => run.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-";

    /// <summary>The status word, with why it ended when that was not the test's own doing ("failed (spawn_failed)").</summary>
    public static string Status(Run run) =>
        run.ErrorCode.Length > 0 && run.ErrorCode != run.Status.ToWord() ? $"{run.Status.ToWord()} ({run.ErrorCode})" : run.Status.ToWord();

    public static string Batch(Run run) =>
        run.BatchId is null ? "" : run.PlanEntry is null ? run.BatchId : $"{run.BatchId}/{run.PlanEntry}";

    /// <summary>How a run's test cases ended, for its counts line: "12/15 passed, 2 failed, 1 skipped" (the kinds that happened).</summary>
    public static string Tests(TestCounts tests)
    {
        string[] others = [.. new[] { (tests.Failed, "failed"), (tests.Errors, "errors"), (tests.Flaky, "flaky"), (tests.Skipped, "skipped") }
            .Where(k => k.Item1 > 0).Select(k => $"{Count(k.Item1)} {k.Item2}")];
        return string.Join(", ", [$"{PassedOf(tests)} passed", .. others]);
    }

    /// <summary>Passed of all the cases, for a column: "12/15"; "-" for a run without results.</summary>
    public static string PassedOf(TestCounts? tests) => tests is { } t ? $"{Count(t.Passed)}/{Count(t.Total)}" : "-";

    /// <summary>A case's seconds shortly: "0.004", "12.3", "-" when the report gave none.</summary>
    public static string Seconds(double? seconds) => seconds is { } s ? s.ToString(s < 10 ? "0.###" : "0.#", CultureInfo.InvariantCulture) : "-";

    /// <summary>A case's status word, with its marks: "failed new", "passed flaky".</summary>
    public static string Status(CaseResult c) => string.Join(' ', new[] { c.Status.Word(), c.New ? "new" : "", c.Flaky && c.Status != TestCaseStatus.Flaky ? "flaky" : "" }.Where(w => w.Length > 0));

    /// <summary>"a1b2c3d4e5f6 (local-1, completed, ended 2026-12-07 12:00:00)": a run named in a diff's header.</summary>
    public static string DiffLabel(Run run) => $"{run.Id} ({run.Machine}, {Status(run)}, ended {Time(run.EndedAt)})";

    public static string Tags(IReadOnlyList<string> tags) => tags.Count == 0 ? "-" : string.Join(",", tags);

    /// <summary>A file mode as ls and chmod write it: 0755.</summary>
    public static string Mode(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8).PadLeft(3, '0');

    public static string Span(TimeSpan span) => Engine.Configuration.Duration.Format(span);

    public static string Count(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>How many of a batch's items are over: "12/200".</summary>
    public static string Progress(Batch batch) => $"{Count(batch.Counts.Done)}/{Count(batch.Counts.Total)}";

    /// <summary>A text progress bar of <paramref name="width"/> cells: "[#####.....]".</summary>
    public static string Bar(Batch batch, int width)
    {
        int filled = batch.Counts.Total == 0 ? width : batch.Counts.Done * width / batch.Counts.Total;
        return $"[{new string('#', filled)}{new string('.', width - filled)}]";
    }

    public static string Target(BatchItem item) => item.Machine ?? $"tags:{Tags(item.Tags ?? [])}";

    /// <summary>An item's state, with why its run ended when that was not the test's own doing.</summary>
    public static string Status(BatchItem item) =>
        item.ErrorCode.Length > 0 && item.ErrorCode != item.Status
            ? $"{item.Status} ({item.ErrorCode}{(item.Why.Length > 0 ? $": {item.Why}" : "")})"
            : item.Status;

    /// <summary>How long ago, shortly: "5s", "3m", "2h", "4d".</summary>
    public static string Age(DateTimeOffset? time, DateTimeOffset now) => time is { } t
        ? (now - t) switch
        {
            { TotalSeconds: < 60 } d => $"{Math.Max(0, (int)d.TotalSeconds)}s",
            { TotalMinutes: < 60 } d => $"{(int)d.TotalMinutes}m",
            { TotalHours: < 48 } d => $"{(int)d.TotalHours}h",
            var d => $"{(int)d.TotalDays}d",
        }
        : "-";

    /// <summary>
    /// A verdict as one letter, the same with or without colour: C completed, F failed (the test), E failed because we
    /// could not run it (an infrastructure or setup error: the rig's fault), T timeout, I interrupted.
    /// </summary>
    public static char Letter(Verdict verdict) => verdict.Status switch
    {
        RunStatus.Completed => 'C',
        RunStatus.Failed when verdict.ErrorCode.Length > 0 => 'E',
        RunStatus.Failed => 'F',
        RunStatus.Timeout => 'T',
        RunStatus.Interrupted when MachineHealth.IsInfrastructure(verdict.ErrorCode) => 'E',
        RunStatus.Interrupted => 'I',
        _ => '?',
    };

    /// <summary>A machine's last verdicts as letters, oldest first: "CCFEEE"; "-" when it has none.</summary>
    public static string Recent(MachineState machine) =>
        machine.Recent.Count == 0 ? "-" : new string([.. machine.Recent.Select(Letter)]);

    /// <summary>
    /// <see cref="Note"/>, then what Slurm says of a Slurm machine's node(s) (state, reason, the job holding it and whose), as
    /// <c>machines</c> prints under its table: the app's NOTE column is the only place it has for it.
    /// </summary>
    public static string NoteWithSlurm(MachineState machine, DateTimeOffset now) => (Note(machine, now), machine.Slurm) switch
    {
        (var note, null) => note,
        ("", var slurm) => $"Slurm: {TerminalText.Escape(slurm)}",
        (var note, var slurm) => $"{note}; Slurm: {TerminalText.Escape(slurm)}",
    };

    /// <summary>
    /// Why a machine is out of service, for people: who drained it, when and why; or why health holds it; or who holds it from
    /// another state dir (and which run of ours waits for it, if one does).
    /// </summary>
    public static string Note(MachineState machine, DateTimeOffset now) =>
        machine.HeldBy is { } h ? $"held by {TerminalText.Escape(h.User)}@{TerminalText.Escape(h.Host)} since {When(h.Since, now)} (run {TerminalText.Escape(h.RunId)} " +
            $"of {TerminalText.Escape(h.StateDir)})" + (machine.CurrentRun is { } waiting ? $"; run {waiting} waits for it" : "")
        : machine.Drained is { } d ? $"drained by {d.By} {When(d.At, now)}{(d.Reason.Length > 0 ? $": {d.Reason}" : "")}"
        : machine.Unreachable is { } why ? why
        : machine.HealthReason ?? (machine.Health == MachineHealth.Failing ? $"{machine.InfraFailures} infrastructure failures in a row; kept in service so that no tag loses too many machines" : "");
}
