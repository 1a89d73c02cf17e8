using System.Text.Json;
using System.Text.Json.Serialization;

namespace TestDispatch.Tests.Fixture.Commands;

/// <summary>
/// One line of hammer output. <c>ready</c> (naming the worker) comes first; then one line per acknowledged write, printed
/// only after the store returned (so it is durable): <c>created</c>, <c>running</c>, <c>completed</c>,
/// <c>note</c> (a token appended to a run's error_msg); <c>summary</c> comes last.
/// </summary>
internal sealed record HammerEvent(string Event, string? Worker = null, string? Id = null, string? Machine = null, string? Token = null, HammerSummary? Summary = null)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public void Print() => Console.WriteLine(JsonSerializer.Serialize(this, Json));
}

/// <summary>
/// What one worker saw. <see cref="Violations"/> lists what the worker itself could tell was wrong
/// (e.g. a run created on a machine where its own run was still active); empty when all was well.
/// </summary>
internal sealed record HammerSummary(
    string Worker,
    int Created,
    int Reused,
    int Busy,
    int ReusedFromOther,
    int BusyByOther,
    int Writes,
    double MaxCallMs,
    IReadOnlyList<string> Violations);
