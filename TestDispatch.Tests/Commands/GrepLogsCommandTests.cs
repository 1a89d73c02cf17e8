using System.Text.Json;
using TestDispatch.Engine.Errors;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Commands;

/// <summary><c>grep</c> through the real CLI over logs real tests wrote through the agent on local machines.</summary>
[Trait("Category", "Integration")]
public sealed class GrepLogsCommandTests : IDisposable
{
    private const string Reset = "ERROR [net] Connection reset by peer (errno 104)";
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task A_batch_of_60_runs_is_searched_newest_run_first_and_every_filter_narrows_it()
    {
        string probe = _cli.MakeTest("probe", $"""
            echo "entry $1 on $TESTDISPATCH_MACHINE"
            [ $(( $1 % 3 )) -eq 0 ] && echo "{Reset}"
            exit 0
            """);
        string plan = _cli.Combine("plan.json");
        await File.WriteAllTextAsync(plan, JsonSerializer.Serialize(new
        {
            name = "sixty",
            entries = Enumerable.Range(0, 60).Select(i => new { name = $"e{i}", test_dir = probe, machine = $"local-{i % 2 + 1}", command = new[] { "./run.sh", $"{i}" } }),
        }));
        (int submitted, string batchJson, string submitError) = await _cli.Run("batch", "submit", plan, "--wait", "--json");
        Assert.True(submitted == 0, submitError);
        string batch = JsonDocument.Parse(batchJson).RootElement.GetProperty("id").GetString()!;
        (_, string runsJson, _) = await _cli.Run("runs", "--json");
        string[] newestFirst = [.. JsonDocument.Parse(runsJson).RootElement.EnumerateArray().Select(r => r.GetProperty("id").GetString()!)];

        (int exit, string all, string error) = await _cli.Run("grep", "-F", "Connection reset by peer");
        (_, string localOne, _) = await _cli.Run("grep", "Connection reset", "--machine", "local-1");
        (_, string newestFive, _) = await _cli.Run("grep", "-l", "^entry [0-9]+ on", "--limit", "5");
        (_, string json, _) = await _cli.Run("grep", "-i", "connection RESET", "--json", "--batch", batch[..6], "--test-dir", probe + "/", "--since", "1h");
        (int failedExit, string failedOnly, _) = await _cli.Run("grep", "Connection", "--status", "failed");
        (int futureExit, _, _) = await _cli.Run("grep", "Connection", "--since", "2099-01-01");
        (int otherDirExit, _, _) = await _cli.Run("grep", "Connection", "--test-dir", _cli.Root);

        Assert.Equal((0, ""), (exit, error));
        string[] hits = all.TrimEnd('\n').Split('\n');
        Assert.Equal(20, hits.Length);
        Assert.All(hits, h => Assert.Matches($@"^[0-9a-f]{{12}}  local-[12]  \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  {System.Text.RegularExpressions.Regex.Escape(Reset)}$", h));
        Assert.Equal(newestFirst.Where(id => hits.Any(h => h.StartsWith(id, StringComparison.Ordinal))), hits.Select(h => h[..12]));
        Assert.Equal(10, localOne.TrimEnd('\n').Split('\n').Length);
        Assert.All(localOne.TrimEnd('\n').Split('\n'), h => Assert.Equal("local-1", h[14..21]));
        Assert.Equal(newestFirst[..5], newestFive.TrimEnd('\n').Split('\n').Select(h => h[..12]));
        JsonElement[] lines = [.. json.TrimEnd('\n').Split('\n').Select(l => JsonDocument.Parse(l).RootElement)];
        Assert.Equal(20, lines.Length);
        Assert.All(lines, l => Assert.Equal(("completed", 2, Reset, "line"),
            (l.GetProperty("status").GetString(), l.GetProperty("line_no").GetInt32(), l.GetProperty("text").GetString(), l.GetProperty("kind").GetString())));
        Assert.All(lines, l => Assert.True(l.TryGetProperty("ended_at", out _) && l.TryGetProperty("machine", out _)));
        Assert.Equal((1, ""), (failedExit, failedOnly));
        Assert.Equal(1, futureExit);
        Assert.Equal(1, otherDirExit);
    }

    /// <summary>The store's limit once counted pending runs, which have no log: queued runs took the places of the newest ended ones.</summary>
    [Fact]
    public async Task Limit_counts_runs_with_a_log_not_the_runs_queued_after_them()
    {
        string release = _cli.Combine("release");
        (int started, _, string startError) = await _cli.Run("run", _cli.MakeTest("blocker", $"while [ ! -e '{release}' ]; do sleep 0.05; done"),
            "--machine", "local-1");
        Assert.True(started == 0, startError);
        string needle = _cli.MakeTest("needle", "echo needle");
        List<string> ended = await Serially(3, async () =>
        {
            (_, string output, string error) = await _cli.Run("run", needle, "--machine", "local-2", "--wait", "--json");
            return JsonDocument.Parse(output).RootElement.GetProperty("id").GetString() ?? throw new InvalidOperationException(error);
        });
        for (int i = 0; i < 3; i++)
        {
            (int queued, _, string queueError) = await _cli.Run("run", needle, "--machine", "local-1", "--queue");
            Assert.True(queued == 0, queueError);
        }

        (int exit, string output, string error) = await _cli.Run("grep", "needle", "--limit", "2");
        File.WriteAllText(release, "");

        Assert.Equal((0, ""), (exit, error));
        Assert.Equal([ended[2], ended[1]], output.TrimEnd('\n').Split('\n').Select(h => h[..12]));
    }

    [Fact]
    public async Task A_log_holding_nul_bytes_matches_as_a_binary_file_as_grep_says()
    {
        string id = await RunAsync(_cli.MakeTest("binary", @"printf 'frame 1\000\001needle\n'"));

        (int exit, string text, _) = await _cli.Run("grep", "needle");
        (_, string json, _) = await _cli.Run("grep", "needle", "--json");

        Assert.Equal(0, exit);
        Assert.Matches($"^{id}  local-1  [-0-9: ]+  Binary file matches\n$", text);
        JsonElement hit = JsonDocument.Parse(json).RootElement;
        Assert.Equal(("binary_file", false), (hit.GetProperty("kind").GetString(), hit.TryGetProperty("text", out _)));
    }

    [Fact]
    public async Task A_pruned_run_is_not_searched()
    {
        string needle = _cli.MakeTest("needle", "echo needle");
        string pruned = await RunAsync(needle);
        (int pruneExit, _, _) = await _cli.Run("prune", "--older-than", "0s");
        string kept = await RunAsync(needle);

        (int exit, string output, string error) = await _cli.Run("grep", "needle");

        Assert.Equal(0, pruneExit);
        Assert.Equal((0, ""), (exit, error));
        Assert.StartsWith(kept, output, StringComparison.Ordinal);
        Assert.DoesNotContain(pruned, output, StringComparison.Ordinal);
        Assert.Single(output.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task A_bad_pattern_or_no_hit_exits_as_grep_does()
    {
        await RunAsync(_cli.MakeTest("needle", "echo needle"));

        (int bad, string badOutput, string badError) = await _cli.Run("grep", "needle(");
        (int none, string noneOutput, string noneError) = await _cli.Run("grep", "haystack");

        Assert.Equal((AnswerOrTrouble.Trouble, ""), (bad, badOutput));
        Assert.StartsWith($"testdispatch: {ErrorCodes.BadInput}: invalid regular expression 'needle(': ", badError, StringComparison.Ordinal);
        Assert.Equal((1, "", ""), (none, noneOutput, noneError));
    }

    [Fact]
    public async Task A_log_removed_under_a_search_is_said_on_stderr_and_the_search_goes_on()
    {
        string big = BigTest();
        List<string> ids = await Serially(5, () => RunAsync(big));
        string prune = string.Join(' ', [.. CliHarness.Program, "--state-dir", _cli.StateDir, "--config", _cli.ConfigFile, "prune", "--older-than", "0s"]);

        // The search blocks on a full pipe inside the newest log; the reader prunes every run, then reads on.
        (int exit, _, string error) = await _cli.Exec(["grep", "needle"], new Dictionary<string, string?> { ["PRUNE"] = prune },
            prefix: ["bash", "-c", "set -o pipefail; \"$0\" \"$@\" | { head -c 1 >/dev/null; $PRUNE >/dev/null; cat >/dev/null; }"]);

        Assert.True(exit == 0, error);
        CliHarness.AssertNoStackTrace(error);
        string[] notes = error.TrimEnd('\n').Split('\n');
        Assert.Equal(ids[..^1].AsEnumerable().Reverse().Select(id => $"testdispatch: {ErrorCodes.LogGone}: run {id} on local-1 was not searched: log "),
            notes.Select(n => n[..n.IndexOf("log '", StringComparison.Ordinal)] + "log "));
    }

    [Fact]
    public async Task A_search_piped_into_head_ends_when_head_does_as_a_unix_filter_would()
    {
        await Serially(2, () => RunAsync(BigTest()));

        (int exit, _, string error) = await _cli.Exec(["grep", "needle"], prefix: ["bash", "-c", "set -o pipefail; \"$0\" \"$@\" | head -c 10 >/dev/null"]);

        Assert.Equal((128 + 13, ""), (exit, error)); // SIGPIPE, as grep ends
    }

    [Fact]
    public async Task Ctrl_c_stops_a_long_search_with_exit_130()
    {
        await Serially(3, () => RunAsync(BigTest()));
        using CancellationTokenSource ctrlC = new();
        CancelOnFirstWrite output = new(ctrlC);

        (int exit, _, _) = await _cli.Run(["grep", "needle"], ctrlC.Token, rawOut: output);

        Assert.True(exit == ExitCodes.Interrupted, $"exit {exit} after {output.Length} bytes");
        Assert.InRange(output.Length, 1, 2 * 3000 * 100); // a part of the 3 × 3,000 hits
    }

    /// <summary>A test printing 3,000 matching lines (~250 KB of hits): more than a pipe and the output buffer hold.</summary>
    private string BigTest() => _cli.MakeTest("big", "seq 3000 | sed 's/^/needle line /; s/$/ ................................................................/'");

    private async Task<string> RunAsync(string test)
    {
        (_, string output, string error) = await _cli.Run("run", test, "--machine", "local-1", "--wait", "--json");
        return JsonDocument.Parse(output).RootElement.GetProperty("id").GetString() ?? throw new InvalidOperationException(error);
    }

    private static async Task<List<string>> Serially(int count, Func<Task<string>> run)
    {
        List<string> ids = [];
        for (int i = 0; i < count; i++)
        {
            ids.Add(await run());
        }
        return ids;
    }

    /// <summary>Standard output whose first write is when the user presses Ctrl-C.</summary>
    private sealed class CancelOnFirstWrite(CancellationTokenSource ctrlC) : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count)
        {
            ctrlC.Cancel();
            base.Write(buffer, offset, count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            ctrlC.Cancel();
            base.Write(buffer);
        }
    }
}
