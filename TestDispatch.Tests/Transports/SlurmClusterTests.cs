using CliWrap.Buffered;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Transports;

/// <summary>
/// The test Slurm cluster itself, and the Slurm behaviour the slurm transport will build on (docs/SLURM-FACTS.md): jobs
/// pinned to a node, exclusivity, cancel, time limit, drain, a controller that goes away. Each test starts on an idle
/// cluster with no job (<see cref="SlurmCluster.Reset"/>); jobs wait on files the test creates, never on a clock.
/// </summary>
[Trait("Category", "Integration")]
[Collection(SlurmCollection.Name)]
public sealed class SlurmClusterTests(SlurmCluster cluster) : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(cluster.JobsDir, Guid.NewGuid().ToString("N")[..8]);

    /// <summary>A job line of <c>squeue -h -t all -o '%i|%j|%T|%N|%r|%u'</c>.</summary>
    private sealed record QueuedJob(string Id, string Name, string State, string Nodes, string Reason, string User)
    {
        public static QueuedJob Parse(string line) => line.Trim().Split('|') is [var id, var name, var state, var nodes, var reason, var user]
            ? new(id, name, state, nodes, reason, user)
            : throw new FormatException($"not a squeue line: {line}");
    }

    public async Task InitializeAsync()
    {
        await cluster.Reset();
        Directory.CreateDirectory(_dir);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_cluster_comes_up_with_three_idle_nodes_and_their_features()
    {
        BufferedCommandResult sinfo = await cluster.Run("sinfo", "-h", "-N", "-o", "%N|%T|%E|%f");

        Assert.Equal((0, "n1|idle|none|fast\nn2|idle|none|fast\nn3|idle|none|slow\n"), (sinfo.ExitCode, sinfo.StandardOutput));
    }

    [Fact]
    public async Task A_job_for_n2_runs_there_and_its_output_appears()
    {
        string script = Script("hello", "echo \"on $SLURMD_NODENAME as job $SLURM_JOB_ID of $SLURM_CLUSTER_NAME\"");

        string id = await Submit("-w", "n2", "-N1", "--exclusive", "--job-name", "td-x", "-o", $"{_dir}/out.%j", script);
        QueuedJob job = await WaitFor(id, j => j.State == "COMPLETED");

        Assert.Matches("^[0-9]+$", id);
        Assert.Equal(("td-x", "n2", Environment.UserName), (job.Name, job.Nodes, job.User));
        Assert.Equal($"on n2 as job {id} of {cluster.Name}\n", await File.ReadAllTextAsync($"{_dir}/out.{id}"));
        IReadOnlyDictionary<string, string> shown = await ShowJob(id);
        Assert.Equal(("COMPLETED", "0:0", "n2"), (shown["JobState"], shown["ExitCode"], shown["NodeList"]));
        BufferedCommandResult byName = await cluster.Run("squeue", "-h", "-t", "all", "--name", "td-x", "-o", "%i|%j|%T|%N|%r|%u");
        Assert.Contains($"{id}|td-x|COMPLETED|n2|None|{Environment.UserName}\n", byName.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_exiting_3_ends_failed_with_its_exit_code()
    {
        string id = await Submit("-o", "/dev/null", Script("fail", "exit 3"));

        QueuedJob job = await WaitFor(id, j => j.State == "FAILED");

        Assert.Equal("NonZeroExitCode", job.Reason);
        Assert.Equal("3:0", (await ShowJob(id))["ExitCode"]);
    }

    [Fact]
    public async Task A_second_exclusive_job_on_a_node_pends_for_resources_until_the_first_ends()
    {
        string first = await Submit("-w", "n1", "-N1", "--exclusive", "-o", "/dev/null",
            Script("first", $"{WaitFor("release")}\necho first-ends >> {_dir}/order"));
        await WaitFor(first, j => j.State == "RUNNING");

        string second = await Submit("-w", "n1", "-N1", "--exclusive", "-o", "/dev/null", Script("second", $"echo second-starts >> {_dir}/order"));
        QueuedJob pending = await WaitFor(second, j => j.Reason != "None");
        Assert.Equal(("PENDING", "Resources", "allocated"), (pending.State, pending.Reason, await cluster.NodeState("n1")));
        Release();

        await WaitFor(second, j => j.State == "COMPLETED");
        Assert.Equal("first-ends\nsecond-starts\n", await File.ReadAllTextAsync($"{_dir}/order"));
        Assert.Equal("COMPLETED", (await Queued(first))!.State);
    }

    [Fact]
    public async Task Scancel_of_a_running_job_ends_it_cancelled_by_sigterm_with_its_processes()
    {
        string id = await Submit("-o", "/dev/null", Script("long", $"touch {_dir}/started\n{WaitFor("release")}"));
        await WaitFor(id, j => j.State == "RUNNING");
        await Eventually.True(() => File.Exists($"{_dir}/started"), what: "the job's script to start");

        await Must("scancel", id);

        await WaitFor(id, j => j.State == "CANCELLED");
        Assert.Equal("0:15", (await ShowJob(id))["ExitCode"]);
        await Eventually.True(() => cluster.JobProcesses().Count == 0, what: "the cancelled job's processes to end");
    }

    [Fact]
    public async Task Scancel_of_a_pending_job_ends_it_cancelled_without_running_it()
    {
        string holder = await Submit("-w", "n3", "-N1", "--exclusive", "-o", "/dev/null", Script("holder", WaitFor("release")));
        string id = await Submit("-w", "n3", "-N1", "--exclusive", "-o", "/dev/null", Script("never", $"touch {_dir}/ran"));
        await WaitFor(id, j => j.Reason == "Resources");

        await Must("scancel", id);

        QueuedJob job = await WaitFor(id, j => j.State == "CANCELLED");
        IReadOnlyDictionary<string, string> shown = await ShowJob(id);
        Assert.Equal(("", "", "0:0"), (job.Nodes, shown["NodeList"], shown["ExitCode"]));
        Release();
        await WaitFor(holder, j => j.State == "COMPLETED");
        Assert.False(File.Exists($"{_dir}/ran"));
    }

    [Fact]
    public async Task A_job_over_its_time_limit_ends_as_timeout()
    {
        // --time counts in whole minutes, and slurmctld looks for jobs over their limit every 30 s: this ends 60-90 s in.
        string id = await Submit("--time=1", "-o", "/dev/null", Script("forever", WaitFor("release")));

        QueuedJob job = await WaitFor(id, j => j.State == "TIMEOUT", within: TimeSpan.FromSeconds(150));

        IReadOnlyDictionary<string, string> shown = await ShowJob(id);
        Assert.Equal(("TimeLimit", "TIMEOUT", "0:15"), (job.Reason, shown["JobState"], shown["ExitCode"]));
    }

    [Fact]
    public async Task A_job_that_ends_while_slurmctld_is_down_is_seen_completed_once_it_is_back()
    {
        string id = await Submit("-o", "/dev/null", Script("short", WaitFor("release")));
        await WaitFor(id, j => j.State == "RUNNING");

        await cluster.StopController();
        BufferedCommandResult refused = await cluster.Run("sbatch", "--parsable", "-o", "/dev/null", Script("refused", "true"));
        Release();
        await Eventually.True(() => cluster.JobProcesses().Count == 0, what: "the job to end on its node");
        await cluster.StartController();

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Unable to contact slurm controller", refused.StandardError, StringComparison.Ordinal);
        await WaitFor(id, j => j.State == "COMPLETED");
    }

    [Fact]
    public async Task A_drained_node_starts_no_new_job_until_it_is_resumed()
    {
        await cluster.Drain("n3", "td: a test drains it");
        BufferedCommandResult sinfo = await cluster.Run("sinfo", "-h", "-N", "-n", "n3", "-o", "%N|%T|%E|%f");

        string id = await Submit("--constraint=slow", "-N1", "-o", "/dev/null", Script("slow", "true"));
        QueuedJob pending = await WaitFor(id, j => j.Reason != "None");
        await cluster.Resume("n3");

        Assert.Equal("n3|drained|td: a test drains it|slow\n", sinfo.StandardOutput);
        Assert.Equal(("PENDING", "ReqNodeNotAvail, UnavailableNodes:n3"), (pending.State, pending.Reason));
        Assert.Equal("n3", (await WaitFor(id, j => j.State == "COMPLETED")).Nodes);
    }

    [Fact]
    public async Task A_process_a_job_started_in_its_own_session_outlives_scancel()
    {
        // proctrack/pgid signals the job's process group only: a child that left it with setsid escapes. A lab's Slurm
        // with proctrack/cgroup would kill it; the run wrapper must not count on either.
        string id = await Submit("-o", "/dev/null", Script("escape", $"setsid sh -c 'echo $$ > {_dir}/escaped; {WaitFor("never")}' &\n{WaitFor("release")}"));
        int escaped = int.Parse(await Eventually.Get(() => File.Exists($"{_dir}/escaped") && File.ReadAllText($"{_dir}/escaped") is [.., '\n'] pid ? pid : null,
            what: "the escaped child's pid"), System.Globalization.CultureInfo.InvariantCulture);

        await Must("scancel", id);
        await WaitFor(id, j => j.State == "CANCELLED");

        await Eventually.True(() => cluster.JobProcesses() is var left && left.Contains(escaped) && left.All(pid => SessionOf(pid) == escaped),
            what: "only the escaped child's session to be left of the job");
        Engine.IO.Libc.Kill(escaped, Engine.IO.Libc.SIGKILL);
        await Eventually.True(() => cluster.JobProcesses().Count == 0, what: "the escaped child to be killed");
    }

    private static int? SessionOf(int pid) =>
        Engine.Processes.ProcFs.Stat(pid) is { } fields ? int.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>Writes an executable job script into this test's dir.</summary>
    private string Script(string name, string body)
    {
        string path = Path.Combine(_dir, $"{name}.sh");
        File.WriteAllText(path, $"#!/bin/sh\n{body}\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }

    /// <summary>Shell lines that wait until the test creates <paramref name="file"/> in its dir.</summary>
    private string WaitFor(string file) => $"while [ ! -e {_dir}/{file} ]; do sleep 0.1; done";

    private void Release() => File.WriteAllText(Path.Combine(_dir, "release"), "");

    private async Task<string> Submit(params string[] arguments) =>
        (await Must(["sbatch", "--parsable", .. arguments])).StandardOutput.Trim().Split(';')[0];

    private async Task<QueuedJob?> Queued(string id)
    {
        BufferedCommandResult squeue = await Must("squeue", "-h", "-t", "all", "-j", id, "-o", "%i|%j|%T|%N|%r|%u");
        return squeue.StandardOutput.Trim().Length == 0 ? null : QueuedJob.Parse(squeue.StandardOutput);
    }

    private async Task<QueuedJob> WaitFor(string id, Func<QueuedJob, bool> condition, TimeSpan? within = null)
    {
        DateTime deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            QueuedJob? job = await Queued(id);
            if (job is not null && condition(job))
            {
                return job;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"job {id} is still {job}\n{cluster.Logs()}");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>The Key=Value fields of <c>scontrol show job</c>.</summary>
    private async Task<IReadOnlyDictionary<string, string>> ShowJob(string id) =>
        (await Must("scontrol", "show", "job", id)).StandardOutput
            .Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries)
            .Where(field => field.Contains('='))
            .Select(field => field.Split('=', 2))
            .GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.First()[1]);

    private async Task<BufferedCommandResult> Must(params string[] command)
    {
        BufferedCommandResult result = await cluster.Run(command[0], command[1..]);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', command)} failed (exit {result.ExitCode}): {result.StandardError}");
        return result;
    }
}
