using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using TestDispatch.Engine;

namespace TestDispatch.Tui.Cli;

/// <summary>
/// What every reading command (machines, runs, show, logs, batch list and show) does around its own part: its output ends
/// the process when its reader goes, as a Unix filter's does; it opens the lab and, as any client, makes sure runs a dead
/// agent left are taken over; and it prints the JSON contract with <c>--json</c>, text without.
/// </summary>
public static class Reading
{
    public static async Task<Lab> OpenAsync(GlobalOptions global, ParseResult parse, CancellationToken cancellationToken)
    {
        global.Console.EndOnBrokenPipe();
        Lab lab = global.OpenLab(parse);
        await lab.EnsureAgentAsync(cancellationToken);
        return lab;
    }

    /// <summary>Prints <paramref name="value"/> as its JSON contract when <paramref name="json"/> is given, else with <paramref name="text"/>.</summary>
    public static async Task<int> PrintAsync<T>(ParseResult parse, Option<bool> json, T value, JsonTypeInfo<T> contract, Action<TextWriter, T> text)
    {
        TextWriter output = parse.InvocationConfiguration.Output;
        if (parse.GetValue(json))
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(value, contract));
        }
        else
        {
            text(output, value);
        }
        return ExitCodes.Passed;
    }
}
