using System.Text.Json;
using TestDispatch.Engine;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Tests.Runs;

[Trait("Category", "Unit")]
public class RunContractTests
{
    private static Run Pending() => new()
    {
        Id = "0123456789ab",
        Machine = "local-1",
        TestDir = "/tests/a",
        TestDirHash = "abc",
        Status = RunStatus.Pending,
        ArtifactsPath = "/s/runs/0123456789ab/artifacts",
        LogsPath = "/s/runs/0123456789ab/output.log",
    };

    [Fact]
    public void A_single_run_has_exactly_the_twelve_contract_fields_in_order_with_nulls_while_unknown()
    {
        using JsonDocument json = JsonDocument.Parse(JsonSerializer.Serialize(Pending(), ContractJson.Default.Run));

        string[] names = [.. json.RootElement.EnumerateObject().Select(p => p.Name)];
        Assert.Equal(
            ["id", "machine", "test_dir", "test_dir_hash", "status", "exit_code", "started_at", "ended_at",
             "artifacts_path", "logs_path", "error_code", "error_msg"],
            names);
        Assert.Equal("pending", json.RootElement.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("exit_code").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("started_at").ValueKind);
        Assert.Equal("", json.RootElement.GetProperty("error_code").GetString());
    }

    [Fact]
    public void A_batch_run_adds_batch_id_and_plan_entry_and_timestamps_are_utc_rfc3339()
    {
        Run run = Pending() with
        {
            Status = RunStatus.Failed,
            ExitCode = 2,
            StartedAt = new DateTimeOffset(2026, 11, 26, 6, 30, 0, TimeSpan.FromHours(2)),
            BatchId = "b1",
            PlanEntry = "smoke",
        };

        using JsonDocument json = JsonDocument.Parse(JsonSerializer.Serialize(run, ContractJson.Default.Run));

        Assert.Equal("b1", json.RootElement.GetProperty("batch_id").GetString());
        Assert.Equal("smoke", json.RootElement.GetProperty("plan_entry").GetString());
        Assert.Equal("2026-11-26T04:30:00.000Z", json.RootElement.GetProperty("started_at").GetString());
        Assert.Equal("failed", json.RootElement.GetProperty("status").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("exit_code").GetInt32());
    }

    [Theory]
    [InlineData(RunStatus.Pending, false)]
    [InlineData(RunStatus.Running, false)]
    [InlineData(RunStatus.Completed, true)]
    [InlineData(RunStatus.Failed, true)]
    [InlineData(RunStatus.Interrupted, true)]
    [InlineData(RunStatus.Timeout, true)]
    public void Only_the_last_four_statuses_are_terminal(RunStatus status, bool terminal) =>
        Assert.Equal(terminal, status.IsTerminal());

    [Fact]
    public void Status_words_round_trip_through_json()
    {
        foreach (RunStatus status in Enum.GetValues<RunStatus>())
        {
            string json = JsonSerializer.Serialize(Pending() with { Status = status }, ContractJson.Default.Run);
            Assert.Contains($"\"status\": \"{status.ToWord()}\"", json, StringComparison.Ordinal);
            Assert.Equal(status, JsonSerializer.Deserialize(json, ContractJson.Default.Run)!.Status);
        }
    }
}
