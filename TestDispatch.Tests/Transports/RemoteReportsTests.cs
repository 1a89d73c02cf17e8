using System.Text;
using TestDispatch.Engine.Transports.Ssh;

namespace TestDispatch.Tests.Transports;

/// <summary>Which files of a remote work dir a run's report patterns name: where the machine lists, and what matches here.</summary>
[Trait("Category", "Unit")]
public class RemoteReportsTests
{
    [Theory]
    [InlineData("build/test-results/**/*.xml", "build/test-results")]
    [InlineData("out/report.xml", "out")]
    [InlineData("a/b*/c.xml|a/x/*.xml", "a|a/x")]
    [InlineData("out/*.xml|*.xml", ".")]
    [InlineData("**/junit.xml", ".")]
    [InlineData("it's a \"dir\" $HOME/*.xml", "it's a \"dir\" $HOME")]
    public void The_machine_lists_only_under_each_patterns_fixed_leading_directories(string patterns, string roots)
    {
        Assert.Equal(roots.Split('|'), RemoteReports.Roots(patterns.Split('|')));
    }

    [Fact]
    public void Listed_paths_match_as_a_local_work_dir_would_whatever_their_names_each_once_in_order()
    {
        string[] listed =
        [
            "./out/it's a \"dir\" $HOME/re\nport $x.xml", "./top.xml", "./elsewhere/junit.xml", "./out/notes.txt", "./out/deep/er/r.xml",
            "./top.xml",
        ];
        byte[] listing = Encoding.UTF8.GetBytes(string.Concat(listed.Select(p => p + "\0")));

        IReadOnlyList<string> matched = RemoteReports.Match(listing, ["out/**/*.xml", "*.xml"]);

        Assert.Equal(["out/deep/er/r.xml", "out/it's a \"dir\" $HOME/re\nport $x.xml", "top.xml"], matched);
        Assert.Empty(RemoteReports.Match([], ["*.xml"]));
    }
}
