using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Scheduling;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;
using static TestDispatch.Tests.Support.TestRuns;

namespace TestDispatch.Tests.Commands;

[Trait("Category", "Integration")]
public sealed class ListingCommandsTests : IDisposable
{
    private readonly CliHarness _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Machines_json_lists_every_machine_with_its_state_and_current_run()
    {
        Lab lab = _cli.OpenLab();
        using IDisposable agent = PretendAnAgentIsUp(lab);
        Run run = lab.Store.Prepare(Request(machine: "local-2")).Run;

        (int exit, string output, string error) = await _cli.Run("machines", "--json");

        Assert.Equal((ExitCodes.Passed, ""), (exit, error));
        using JsonDocument json = JsonDocument.Parse(output);
        JsonElement[] machines = [.. json.RootElement.EnumerateArray()];
        Assert.Equal(["local-1", "local-2"], machines.Select(m => m.GetProperty("name").GetString()));
        Assert.Equal("idle", machines[0].GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, machines[0].GetProperty("current_run").ValueKind);
        Assert.Equal("busy", machines[1].GetProperty("state").GetString());
        Assert.Equal(run.Id, machines[1].GetProperty("current_run").GetString());
        Assert.Equal("local", machines[1].GetProperty("transport").GetString());
        Assert.Equal(["local", "fast"], machines[1].GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.True(machines[1].TryGetProperty("host", out _));
    }

    [Fact]
    public async Task Ctrl_c_stops_a_long_json_listing_between_two_runs_with_exit_130()
    {
        Lab lab = _cli.OpenLab();
        using IDisposable agent = PretendAnAgentIsUp(lab);
        for (int i = 0; i < 400; i++)
        {
            string id = lab.Store.Prepare(Request(machine: "local-2", hash: $"h-{i}")).Run.Id;
            lab.Store.Update(id, r => r with { Run = r.Run with { Status = RunStatus.Completed, ExitCode = 0, EndedAt = DateTimeOffset.UtcNow } });
        }
        using CancellationTokenSource ctrlC = new();
        CancelOnFirstWrite output = new(ctrlC);

        (int exit, _, _) = await _cli.Run(["runs", "--json"], ctrlC.Token, rawOut: output);

        Assert.True(exit == ExitCodes.Interrupted, $"exit {exit} after {output.Length} bytes");
        int listed = System.Text.Encoding.UTF8.GetString(output.ToArray()).Split("\"id\":").Length - 1;
        Assert.InRange(listed, 1, 399); // a part, not every run
    }

    [Fact]
    public async Task A_listing_piped_into_head_ends_when_head_does_as_a_unix_filter_would()
    {
        Lab lab = _cli.OpenLab();
        using IDisposable agent = PretendAnAgentIsUp(lab);
        for (int i = 0; i < 400; i++) // ~180 KB of JSON: more than a pipe holds once head has gone
        {
            string id = lab.Store.Prepare(Request(machine: "local-2", hash: $"h-{i}")).Run.Id;
            lab.Store.Update(id, r => r with { Run = r.Run with { Status = RunStatus.Completed, ExitCode = 0, EndedAt = DateTimeOffset.UtcNow } });
        }

        (int exit, _, string error) = await _cli.Exec(["runs", "--json"],
            prefix: ["bash", "-c", "set -o pipefail; \"$0\" \"$@\" | head -c 10 >/dev/null"]);

        Assert.Equal(128 + 13, exit); // SIGPIPE, as 'seq 1000000 | head -1' ends; it used to write every run for no reader, then exit 0
        Assert.Equal("", error);
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

    [Fact]
    public async Task Machines_prints_aligned_columns_for_people()
    {
        (int exit, string output, _) = await _cli.Run("machines");

        string[] lines = output.TrimEnd().Split('\n');
        Assert.Equal(0, exit);
        Assert.StartsWith("NAME", lines[0], StringComparison.Ordinal);
        Assert.Equal(lines[0].IndexOf("STATE", StringComparison.Ordinal), lines[1].IndexOf("idle", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Runs_json_lists_runs_newest_first_and_filters()
    {
        Lab lab = _cli.OpenLab();
        using IDisposable agent = PretendAnAgentIsUp(lab);
        Run older = lab.Store.Prepare(Request(machine: "local-1")).Run;
        lab.Store.Update(older.Id, r => Finished(Running(r), RunStatus.Failed, 1));
        Run newer = lab.Store.Prepare(Request(machine: "local-2")).Run;

        (_, string all, _) = await _cli.Run("runs", "--json");
        (_, string failed, _) = await _cli.Run("runs", "--json", "--status", "failed");
        (_, string onTwo, _) = await _cli.Run("runs", "--json", "--machine", "local-2");

        Assert.Equal([newer.Id, older.Id], Ids(all));
        Assert.Equal([older.Id], Ids(failed));
        Assert.Equal([newer.Id], Ids(onTwo));
    }

    [Fact]
    public async Task Runs_with_an_unknown_status_exits_2_naming_the_choices()
    {
        (int exit, string output, string error) = await _cli.Run("runs", "--status", "done");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("", output);
        Assert.Contains("'done' is not a status", error, StringComparison.Ordinal);
        Assert.Contains("completed", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_finds_a_run_by_prefix_and_prints_the_contract()
    {
        Lab lab = _cli.OpenLab();
        using IDisposable agent = PretendAnAgentIsUp(lab);
        Run run = lab.Store.Prepare(Request(machine: "local-1")).Run;

        (int exit, string output, _) = await _cli.Run("show", run.Id[..8], "--json");

        Assert.Equal(0, exit);
        Assert.Equal(JsonSerializer.Serialize(run, ContractJson.Default.Run).Trim(), output.Trim());
    }

    [Fact]
    public async Task Show_of_an_unknown_id_exits_2_with_nothing_on_stdout()
    {
        (int exit, string output, string error) = await _cli.Run("show", "deadbeef", "--json");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("", output);
        Assert.Contains("run_not_found", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_config_exits_2_with_the_message()
    {
        File.WriteAllText(_cli.ConfigFile, """{ "TestDispatch": { "Machines": [ { "Name": "x", "Transport": "carrier-pigeon" } ] } }""");

        (int exit, _, string error) = await _cli.Run("machines");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("config_invalid", error, StringComparison.Ordinal);
        Assert.Contains("carrier-pigeon", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_command_exits_2()
    {
        (int exit, _, string error) = await _cli.Run("frobnicate");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("frobnicate", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_reports_a_damaged_store_and_repair_rebuilds_it_keeping_a_backup()
    {
        Lab lab = _cli.OpenLab(startsAgents: false);
        Run kept = lab.Store.Prepare(Request(machine: "local-1")).Run;
        File.AppendAllText(lab.Store.Paths.Journal(0), "not json\n");

        (int broken, string report, _) = await _cli.Run("doctor");
        (int listing, _, string error) = await _cli.Run("runs");
        (int repaired, string repair, _) = await _cli.Run("doctor", "--repair");
        (int after, string runs, _) = await _cli.Run("runs", "--json");

        Assert.Equal((ExitCodes.Infrastructure, ExitCodes.Infrastructure), (broken, listing));
        Assert.Contains("FAIL  store", report, StringComparison.Ordinal);
        Assert.Contains("state_corrupt", error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Passed, repaired);
        Assert.Contains("dropped 1 unreadable journal lines", repair, StringComparison.Ordinal);
        string backup = repair.Split('\n').First(l => l.Contains("backup kept at", StringComparison.Ordinal)).Split("backup kept at ")[1].Trim();
        Assert.Contains("not json", File.ReadAllText(backup), StringComparison.Ordinal);
        Assert.Equal(0, after);
        Assert.Equal([kept.Id], Ids(runs));
    }

    [Fact]
    public async Task Doctor_on_a_healthy_lab_exits_0()
    {
        (int exit, string output, _) = await _cli.Run("doctor");

        Assert.Equal(ExitCodes.Passed, exit);
        Assert.Contains("ok    store", output, StringComparison.Ordinal);
        Assert.Contains("ok    setsid", output, StringComparison.Ordinal);
        Assert.Matches("processes .*env -i setsid.*this host's cgroups are (v1|v2)", output);
    }

    /// <summary>
    /// Holds agent.lock as a live agent would, so the reads' recovery check starts no real agent that would
    /// execute these made-up runs while the test looks at them.
    /// </summary>
    private static IDisposable PretendAnAgentIsUp(Lab lab) => lab.Locks.TryAcquire(lab.Store.Paths.AgentLock)!;

    private static string[] Ids(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateArray().Select(r => r.GetProperty("id").GetString()!)];
    }
}
