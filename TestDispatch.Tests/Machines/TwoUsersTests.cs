using System.Globalization;
using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Machines;
using TestDispatch.Engine.Runs;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Machines;

/// <summary>
/// One local machine shared by two real users (made with useradd: the tests run as root, as CI does), each running the real
/// CLI under their own uid with a state dir of their own, the machine's lock in a root-owned sticky 1777 directory as /tmp
/// is (docs/DESIGN.md §12): their tests never run together, each sees the other holding the machine, and neither can
/// replace the other's lock file or make the other's wrapper write through a planted symlink. The kernel is set as most
/// systemd hosts set it, fs.protected_regular=1: a user may not open another's file in a sticky directory with O_CREAT (so
/// the second user's wrapper and look must lock the first user's lock file without asking to create it).
/// </summary>
[Trait("Category", "Integration")]
public sealed class TwoUsersTests : IDisposable
{
    private const string Alice = "td-lab-a";
    private const string Bob = "td-lab-b";

    /// <summary>What both users reach (0755): the program's copy, the lock dir, the gates, each one's home.</summary>
    private readonly TempDir _dir = new("testdispatch-users-");
    private readonly Dictionary<string, CliHarness> _labs = [];

    private const string ProtectedRegular = "/proc/sys/fs/protected_regular";

    private readonly string _protectedRegular = File.ReadAllText(ProtectedRegular).Trim();

    public TwoUsersTests()
    {
        File.WriteAllText(ProtectedRegular, "1");
        File.SetUnixFileMode(_dir.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
            UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        Directory.CreateDirectory(Locks);
        File.SetUnixFileMode(Locks, (UnixFileMode)0b1_111_111_111);
        // The tests' build may sit where the users cannot reach (/root is 0700): they run a copy of it.
        Root("cp", "-r", AppContext.BaseDirectory, _dir.Combine("program"));
        foreach (string user in new[] { Alice, Bob })
        {
            // Made once per machine: useradd's 9 is "already exists".
            BufferedCommandResult made = Cli.Wrap("useradd").WithArguments(["--no-create-home", "--shell", "/bin/sh", user])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync().GetAwaiter().GetResult();
            Assert.True(made.ExitCode is 0 or 9, $"useradd {user}: {made.StandardError}");
            string home = _dir.Combine(user);
            Directory.CreateDirectory(home);
            Root("chown", $"{user}:", home);
            File.SetUnixFileMode(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            CliHarness lab = new(machinesJson: $$"""[ { "Name": "bench", "Transport": "local", "LockDir": "{{Locks}}" } ]""", stateDir: Path.Combine(home, "state"));
            File.SetUnixFileMode(lab.Root, File.GetUnixFileMode(_dir.Path));
            _labs[user] = lab;
        }
    }

    public void Dispose()
    {
        File.WriteAllText(Gate, "");
        foreach (CliHarness lab in _labs.Values)
        {
            lab.Dispose();
        }
        _dir.Dispose();
        File.WriteAllText(ProtectedRegular, _protectedRegular);
    }

    private string Locks => _dir.Combine("locks");

    private string LockFile => Path.Combine(Locks, "testdispatch-bench.lock");

    /// <summary>Every test here waits for it before it ends.</summary>
    private string Gate => _dir.Combine("gate");

    private string Home(string user) => _dir.Combine(user);

    private static void Root(params string[] command)
    {
        BufferedCommandResult result = Cli.Wrap(command[0]).WithArguments(command[1..]).WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync().GetAwaiter().GetResult();
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', command)}: {result.StandardError}");
    }

    /// <summary>A command run as <paramref name="user"/> (runuser: no shell, no PAM session), with HOME their own.</summary>
    private async Task<(int Exit, string Out, string Err)> As(string user, params string[] command)
    {
        using CancellationTokenSource deadline = new(TimeSpan.FromSeconds(60));
        BufferedCommandResult result = await Cli.Wrap("runuser").WithArguments(["-u", user, "--", "env", $"HOME={Home(user)}", .. command])
            .WithStandardInputPipe(PipeSource.Null).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(deadline.Token);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    /// <summary>The real CLI, the users' copy of it, as <paramref name="user"/> on their state dir.</summary>
    private async Task<string> RunCli(string user, params string[] args)
    {
        (int exit, string output, string error) = await As(user, [_dir.Combine("program", "testdispatch"), "--state-dir", _labs[user].StateDir,
            "--config", _labs[user].ConfigFile, .. args]);
        Assert.True(exit == 0, $"{user}: testdispatch {string.Join(' ', args)}: {error}");
        return output;
    }

    /// <summary>
    /// A test of <paramref name="user"/>'s that marks its start (<see cref="Started"/>), waits for the gate and writes when it
    /// started and ended into their own trace.
    /// </summary>
    private string Gated(string user, string name)
    {
        string dir = _labs[user].MakeTest(name, $"""
            s=$(date +%s%N)
            touch '{Home(user)}/{name}.started'
            while [ ! -e '{Gate}' ]; do sleep 0.05; done
            echo "{name} $s $(date +%s%N)" >> '{Home(user)}/trace'
            """);
        Root("chown", "-R", $"{user}:", Path.GetDirectoryName(dir)!);
        return dir;
    }

    /// <summary>The test's own mark of its start: its wrapper holds the machine's lock by then.</summary>
    private async Task Started(string user, string name) =>
        await Eventually.True(() => File.Exists(Path.Combine(Home(user), $"{name}.started")), TimeSpan.FromSeconds(60), $"{user}'s test {name} to start");

    private async Task<Run> Dispatch(string user, string test) =>
        JsonSerializer.Deserialize(await RunCli(user, "run", test, "--machine", "bench", "--json"), ContractJson.Default.Run)!;

    private async Task<Run> Show(string user, string id) => JsonSerializer.Deserialize(await RunCli(user, "show", id, "--json"), ContractJson.Default.Run)!;

    private async Task<Run> Status(string user, string id, params RunStatus[] statuses) =>
        await Eventually.GetAsync(async () => await Show(user, id) is var run && statuses.Contains(run.Status) ? run : null, TimeSpan.FromSeconds(60),
            $"{user}'s run {id} to be {string.Join(" or ", statuses)}");

    /// <summary>Who <paramref name="user"/>'s <c>machines --json</c> says holds the machine (polled: each retry of the waiting run is a launch).</summary>
    private async Task<LockHolder> HeldBy(string user) =>
        await Eventually.GetAsync(async () => JsonSerializer.Deserialize(await RunCli(user, "machines", "--json"), ContractJson.Default.IReadOnlyListMachineState)!.Single().HeldBy,
            TimeSpan.FromSeconds(60), $"{user}'s machines to show who holds the machine");

    private async Task<Run> Waiting(string user, string id)
    {
        Run? last = null;
        try
        {
            return await Eventually.GetAsync(async () => (last = await Show(user, id)) is { Status: RunStatus.Pending, ErrorCode: ErrorCodes.MachineBusyElsewhere } run ? run : null,
                TimeSpan.FromSeconds(60), $"{user}'s run {id} to wait for the machine held elsewhere");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}; it was {last?.Status} {last?.ErrorCode} {last?.ErrorMsg}", e);
        }
    }

    /// <summary>Every test's span (from the tests' own clocks, both users' traces), which must not overlap.</summary>
    private void AssertNeverTogether(int tests)
    {
        (long Start, long End)[] spans = [.. new[] { Alice, Bob }.Select(u => Path.Combine(Home(u), "trace")).Where(File.Exists).SelectMany(File.ReadAllLines)
            .Select(l => l.Split(' ')).Select(f => (long.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture))).Order()];
        Assert.Equal(tests, spans.Length);
        Assert.All(spans.Zip(spans.Skip(1)), pair => Assert.True(pair.First.End <= pair.Second.Start, $"two tests ran together: {pair.First} and {pair.Second}"));
    }

    [Fact]
    public async Task Two_users_dispatching_to_one_machine_at_once_never_run_together_and_each_sees_the_other_holding_it()
    {
        Run[] first = await Task.WhenAll(Dispatch(Alice, Gated(Alice, "a1")), Dispatch(Bob, Gated(Bob, "b1")));
        // Whichever started first holds the machine; the other's run waits for it.
        await Eventually.True(() => File.Exists(Path.Combine(Home(Alice), "a1.started")) || File.Exists(Path.Combine(Home(Bob), "b1.started")),
            TimeSpan.FromSeconds(60), "one of the two tests to start");
        (string holder, Run holding, string waiter, Run waiting) = File.Exists(Path.Combine(Home(Alice), "a1.started"))
            ? (Alice, first[0], Bob, await Waiting(Bob, first[1].Id))
            : (Bob, first[1], Alice, await Waiting(Alice, first[0].Id));
        LockHolder seenByWaiter = await HeldBy(waiter);
        // The holder's test ends; the waiter's takes the machine and holds it while the holder's next run waits.
        File.WriteAllText(Gate, "");
        await Status(holder, holding.Id, RunStatus.Completed);
        await Status(waiter, waiting.Id, RunStatus.Completed);
        File.Delete(Gate);
        Run again = await Dispatch(waiter, Gated(waiter, "w2"));
        await Started(waiter, "w2");
        Run behind = await Waiting(holder, (await Dispatch(holder, Gated(holder, "h2"))).Id);
        LockHolder seenByHolder = await HeldBy(holder);
        File.WriteAllText(Gate, "");
        await Status(waiter, again.Id, RunStatus.Completed);
        await Status(holder, behind.Id, RunStatus.Completed);

        Assert.Equal((holder, holding.Id, _labs[holder].StateDir), (seenByWaiter.User, seenByWaiter.RunId, seenByWaiter.StateDir));
        Assert.Equal((waiter, again.Id, _labs[waiter].StateDir), (seenByHolder.User, seenByHolder.RunId, seenByHolder.StateDir));
        Assert.Contains(holder, waiting.ErrorMsg, StringComparison.Ordinal);
        Assert.Contains(waiter, behind.ErrorMsg, StringComparison.Ordinal);
        AssertNeverTogether(4);
    }

    [Fact]
    public async Task A_user_can_neither_plant_a_symlink_for_anothers_lock_nor_replace_the_lock_file_they_made()
    {
        string precious = Path.Combine(Home(Alice), "precious");
        File.WriteAllText(precious, "alice's own\n");
        Root("chown", $"{Alice}:", precious);
        // Bob, first there, plants a link where the lock file goes, to a file of Alice's that her wrapper could write.
        Assert.Equal(0, (await As(Bob, "ln", "-s", precious, LockFile)).Exit);
        Run refused = await Status(Alice, (await Dispatch(Alice, Gated(Alice, "a1"))).Id, RunStatus.Failed, RunStatus.Completed);
        string afterPlant = File.ReadAllText(precious);
        Assert.Equal(0, (await As(Bob, "rm", LockFile)).Exit);

        // Alice's run makes the lock file and holds it; Bob tries to take the file away or put his own in its place.
        Run held = await Dispatch(Alice, Gated(Alice, "a2"));
        await Started(Alice, "a2");
        string bobs = Path.Combine(Home(Bob), "mine");
        Assert.Equal(0, (await As(Bob, "touch", bobs)).Exit);
        string lockBefore = (await As(Alice, "stat", "-c", "%U %i %F", LockFile)).Out;
        int[] replaced = [(await As(Bob, "rm", "-f", LockFile)).Exit, (await As(Bob, "mv", "-f", bobs, LockFile)).Exit,
            (await As(Bob, "ln", "-sfn", precious, LockFile)).Exit];
        string lockAfter = (await As(Alice, "stat", "-c", "%U %i %F", LockFile)).Out;
        Run waiting = await Waiting(Bob, (await Dispatch(Bob, Gated(Bob, "b1"))).Id);
        File.WriteAllText(Gate, "");
        await Status(Alice, held.Id, RunStatus.Completed);
        await Status(Bob, waiting.Id, RunStatus.Completed);

        Assert.Equal((RunStatus.Failed, ErrorCodes.MachineLockUnavailable), (refused.Status, refused.ErrorCode));
        Assert.Contains("symlink", refused.ErrorMsg, StringComparison.Ordinal);
        Assert.Equal("alice's own\n", afterPlant);
        Assert.All(replaced, exit => Assert.NotEqual(0, exit));
        Assert.Equal($"{Alice} ", lockBefore[..(Alice.Length + 1)]);
        Assert.Equal(lockBefore, lockAfter);
        Assert.Contains(held.Id, waiting.ErrorMsg, StringComparison.Ordinal);
        AssertNeverTogether(2);
    }
}
