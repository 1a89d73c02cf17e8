using CliWrap;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests;

/// <summary>
/// The suite leaves nothing running (issue 31, item 9): a process a test left in one of its temporary directories, even
/// one whose directory was deleted under it, is found by its working directory, ended, and named at the end of the run.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SuiteHygieneTests
{
    [Fact]
    public async Task A_loop_left_in_a_deleted_temporary_directory_is_found_and_ended()
    {
        string dir = Directory.CreateTempSubdirectory("testdispatch-hygiene-").FullName;
        string work = Path.Combine(dir, "remote", "0123456789ab", "work");
        Directory.CreateDirectory(work);
        // As a remote test whose release file went with its folder: detached, looping for ever, in a deleted dir.
        await Cli.Wrap("setsid").WithArguments(["-f", "/bin/sh", "-c", "while [ ! -e ./release ]; do sleep 0.1; done"])
            .WithWorkingDirectory(work).ExecuteAsync();
        await Eventually.True(() => Leftovers.In(dir).Count > 0, what: "the loop to start");
        Directory.Delete(dir, recursive: true);

        IReadOnlyList<(int Pid, string What)> found = Leftovers.In(dir);
        IReadOnlyList<string> ended = Leftovers.End(dir, TimeSpan.Zero, remember: false);

        // The loop, and at times a child of it caught between its fork and its exec of sleep (same command line): the
        // loop is the first of them.
        (int pid, string what) = found.Where(f => f.What.Contains("/bin/sh -c while", StringComparison.Ordinal)).MinBy(f => f.Pid);
        Assert.EndsWith($"in {work} (deleted)", what, StringComparison.Ordinal);
        Assert.Contains(what, ended);
        await Eventually.True(() => !Directory.Exists($"/proc/{pid}") || File.ReadAllText($"/proc/{pid}/stat").Contains(") Z", StringComparison.Ordinal),
            what: "the loop to be gone");
    }
}
