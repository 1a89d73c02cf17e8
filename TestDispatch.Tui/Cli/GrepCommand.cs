using System.CommandLine;
using System.Text;
using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Logs;
using TestDispatch.Engine.Runs;
using TestDispatch.Tui.Text;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// <c>grep PATTERN [-F] [-i] [-l] [--json] [filters]</c>: "have we seen this before?" over every log in history, newest run
/// first (docs/log-search-and-diff.md). Each hit is <c>RUN  MACHINE  ENDED  line</c>, or a JSON line. Exits as grep does:
/// 0 on a hit, 1 on none, 2 on trouble.
/// </summary>
public static class GrepCommand
{
    public static Command Build(GlobalOptions global)
    {
        Argument<string> pattern = new("pattern") { Description = "A regular expression (.NET syntax), or with -F a fixed string; each line is searched on its own" };
        Option<bool> fixedString = new("--fixed-strings", "-F") { Description = "The pattern is a fixed string, not a regular expression" };
        Option<bool> ignoreCase = new("--ignore-case", "-i") { Description = "Ignore case" };
        Option<bool> runsOnly = new("--files-with-matches", "-l") { Description = "Print each run with a hit once, not its lines" };
        Option<string?> testDir = new("--test-dir") { Description = "Only runs of this test directory" };
        Option<DateTimeOffset?> since = new("--since")
        {
            Description = "Only runs started since then: a time ago (2h, 7d) or a date or time (2026-12-01)",
            CustomParser = RunFilterOptions.ParseSince,
        };
        Option<bool> json = new("--json") { Description = "Print one JSON object a hit (JSON lines): run, machine, status, ended_at, line_no, text, kind" };
        RunFilterOptions filters = new("Search at most this many runs, the newest");
        Command command = new("grep", "Search the logs of every run in history, newest run first") { pattern };
        foreach (Option option in new Option[] { fixedString, ignoreCase, runsOnly }.Concat(filters.All).Concat([testDir, since, json]))
        {
            command.Options.Add(option);
        }
        command.SetAction((parse, cancellationToken) => AnswerOrTrouble.RunAsync(global.Console, async () =>
        {
            Lab lab = await Reading.OpenAsync(global, parse, cancellationToken);
            RunFilter filter = filters.Filter(parse, lab) with { TestDir = parse.GetValue(testDir), Since = parse.GetValue(since) };
            LogSearchOptions options = new(parse.GetValue(fixedString), parse.GetValue(ignoreCase), parse.GetValue(runsOnly));
            IEnumerable<RunLogHit> hits = lab.SearchLogs(parse.GetValue(pattern)!, options, filter,
                (run, gone) => global.Console.Note($"{ErrorCodes.LogGone}: run {run.Id} on {run.Machine} was not searched: {gone.Message}"), cancellationToken);
            // As grep: a line at a time for a person watching, blocks down a pipe.
            using HitWriter output = new(global.Console.RawOut, parse.GetValue(json), lineBuffered: global.Console.Out == Console.Out && !Console.IsOutputRedirected);
            bool found = false;
            foreach (RunLogHit hit in hits)
            {
                output.Write(hit);
                found = true;
            }
            return found ? ExitCodes.Passed : ExitCodes.TestFailed;
        }));
        return command;
    }

    /// <summary>Hits on standard output: text rows made safe for a terminal, or JSON lines.</summary>
    private sealed class HitWriter(Stream raw, bool json, bool lineBuffered) : IDisposable
    {
        private readonly BufferedStream _out = new(raw, 1 << 16);
        private Utf8JsonWriter? _json;
        private StreamWriter? _text;
        private string? _prefixOf;
        private string _prefix = "";

        public void Write(RunLogHit hit)
        {
            if (json)
            {
                _json ??= new Utf8JsonWriter(_out);
                JsonSerializer.Serialize(_json, hit, LogJson.Default.RunLogHit);
                _json.Flush();
                _json.Reset();
                _out.WriteByte((byte)'\n');
            }
            else
            {
                _text ??= new StreamWriter(_out, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
                if (!ReferenceEquals(hit.Run, _prefixOf))
                {
                    // Once a run, not once a hit: a common word hits thousands of times in one log.
                    (_prefixOf, _prefix) = (hit.Run, $"{hit.Run}  {TerminalText.Escape(hit.Machine)}  {Format.Time(hit.EndedAt)}");
                }
                _text.Write(_prefix);
                _text.Write(hit.Kind switch
                {
                    null => "\n",
                    LogHitKind.BinaryFile => "  Binary file matches\n",
                    _ => $"  {TerminalText.Escape(hit.Text)}\n",
                });
            }
            if (lineBuffered)
            {
                Flush();
            }
        }

        private void Flush()
        {
            _text?.Flush();
            _out.Flush();
        }

        /// <summary>Flushes what is left; standard output itself stays open (disposing the buffer would close it).</summary>
        public void Dispose()
        {
            Flush();
            _text?.Dispose();
            _json?.Dispose();
        }
    }
}
