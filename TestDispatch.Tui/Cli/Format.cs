using System.Globalization;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tui.Cli;

/// <summary>How runs read for people, shared by the CLI and the TUI so both say the same thing.</summary>
public static class Format
{
    public static string Time(DateTimeOffset? time) =>
        time?.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-";

    public static string Duration(Run run) => run.Duration is { } d ? Engine.Configuration.Duration.Format(d) : "-";

    public static string Exit(Run run) => run.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "-";

    /// <summary>The status word, with why it ended when that was not the test's own doing ("failed (spawn_failed)").</summary>
    public static string Status(Run run) =>
        run.ErrorCode.Length > 0 && run.ErrorCode != run.Status.ToWord() ? $"{run.Status.ToWord()} ({run.ErrorCode})" : run.Status.ToWord();

    public static string Batch(Run run) =>
        run.BatchId is null ? "" : run.PlanEntry is null ? run.BatchId : $"{run.BatchId}/{run.PlanEntry}";

    public static string Tags(IReadOnlyList<string> tags) => tags.Count == 0 ? "-" : string.Join(",", tags);

    public static string Span(TimeSpan span) => Engine.Configuration.Duration.Format(span);
}
