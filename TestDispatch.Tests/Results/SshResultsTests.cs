using System.Text.Json;
using TestDispatch.Tests.Support;
using TestDispatch.Tui.Cli;

namespace TestDispatch.Tests.Results;

/// <summary>
/// Results of a run on an ssh machine (a real sshd on 127.0.0.1, see <see cref="SshServer"/>): the reports its
/// <c>testdispatch.json</c> names with <c>"results"</c> in its work dir come back with its artifacts, by rsync or by tar
/// over ssh, whatever their names, and are read as a local run's are.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SshResultsTests : IDisposable
{
    private readonly SshServer _sshd = new();

    public void Dispose() => _sshd.Dispose();

    /// <summary>
    /// A test that writes two reports in its work dir, outside its artifacts: one in a directory and under a name holding
    /// quotes, spaces, a $ and a newline, one at the top; and an XML file the patterns do not name.
    /// </summary>
    private static string HostileReportsTest(CliHarness cli)
    {
        string test = cli.MakeTest("remote", """
            d="out/it's a \"dir\" \$HOME"
            mkdir -p "$d" elsewhere
            printf '<testsuite name="remote"><testcase classname="rig" name="reads"/><testcase classname="rig" name="breaks"><failure message="broke"/></testcase></testsuite>' > "$d/re
            port \$x.xml"
            printf '<testsuite name="top"><testcase name="top_case"/></testsuite>' > top.xml
            printf '<testsuite name="unnamed"><testcase name="not_read"/></testsuite>' > elsewhere/junit.xml
            exit 1
            """);
        File.WriteAllText(Path.Combine(test, "testdispatch.json"), """{ "results": ["out/**/*.xml", "*.xml"] }""");
        return test;
    }

    private static async Task AssertCasesComeBack(CliHarness cli, SshServer sshd, string machine)
    {
        string test = HostileReportsTest(cli);

        (int exit, string output, string error) = await cli.Run("run", test, "--machine", machine, "--wait", "--json");
        Assert.True(exit == ExitCodes.TestFailed, $"exit {exit}: {output}{error}");
        JsonElement run = JsonDocument.Parse(output).RootElement;
        string id = run.GetProperty("id").GetString()!;
        (int shown, string tests, string showError) = await cli.Run("show", id, "--tests", "--json");

        Assert.True(shown == ExitCodes.Passed, showError);
        Assert.Equal("""{"total":3,"passed":2,"failed":1,"errors":0,"skipped":0,"flaky":0}""", JsonSerializer.Serialize(run.GetProperty("tests")));
        Assert.False(run.TryGetProperty("results_error", out _), output);
        JsonElement[] cases = [.. JsonDocument.Parse(tests).RootElement.GetProperty("cases").EnumerateArray()];
        Assert.Equal(["breaks", "reads", "top_case"], cases.Select(c => c.GetProperty("name").GetString()));
        Assert.Equal("out/it's a \"dir\" $HOME/re\nport $x.xml", cases[0].GetProperty("report").GetString());
        Assert.Equal("top.xml", cases[2].GetProperty("report").GetString());
        // The copies brought back go once read, and nothing of the run is left on the machine.
        Assert.False(Directory.Exists(Path.Combine(cli.StateDir, "runs", id, "reports")));
        await Eventually.True(() => sshd.Leftovers().Count == 0, what: "the remote run dir to be removed");
    }

    [Fact]
    public async Task Reports_a_results_glob_names_in_the_work_dir_come_back_by_rsync_whatever_their_names()
    {
        using CliHarness cli = new(machinesJson: $"[ {_sshd.Machine("rig")} ]");

        await AssertCasesComeBack(cli, _sshd, "rig");
    }

    [Fact]
    public async Task Reports_a_results_glob_names_come_back_by_tar_from_a_machine_without_rsync()
    {
        string bin = _sshd.Combine("bin-without-rsync");
        Directory.CreateDirectory(bin);
        foreach (string? tool in Directory.EnumerateFiles("/usr/bin").Concat(Directory.EnumerateFiles("/bin")).Select(Path.GetFileName).Distinct()
            .Where(t => t is not "rsync"))
        {
            File.CreateSymbolicLink(Path.Combine(bin, tool!), File.Exists(Path.Combine("/usr/bin", tool!)) ? Path.Combine("/usr/bin", tool!) : Path.Combine("/bin", tool!));
        }
        using SshServer bare = new(path: bin);
        using CliHarness cli = new(machinesJson: $"[ {bare.Machine("bare")} ]");

        await AssertCasesComeBack(cli, bare, "bare");
    }
}
