using TestDispatch.Engine.Execution;

namespace TestDispatch.Tests.Execution;

/// <summary>The keeper file that every client writes before it starts an agent.</summary>
public sealed class AgentLauncherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("testdispatch-launcher-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Found by CI: two clients queuing at once both wrote keeper.sh.tmp and renamed it; the second rename found no file,
    /// and its run ended spawn_failed. Each writer now has its own temp file.
    /// </summary>
    [Fact]
    public async Task Clients_writing_the_keeper_at_once_all_succeed_and_leave_one_whole_keeper()
    {
        string keeper = Path.Combine(_dir, AgentLauncher.KeeperFile);
        for (int round = 0; round < 20; round++)
        {
            File.WriteAllText(keeper, "an older keeper\n");
            using Barrier start = new(8);
            await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            {
                start.SignalAndWait();
                AgentLauncher.WriteKeeper(keeper);
            })));
        }

        Assert.Contains("agent", File.ReadAllText(keeper));
        Assert.Equal([AgentLauncher.KeeperFile], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keeper));
    }
}
