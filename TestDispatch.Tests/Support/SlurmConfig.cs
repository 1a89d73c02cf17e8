namespace TestDispatch.Tests.Support;

/// <summary>
/// The slurm.conf of the tests' SlurmCluster: nodes n1-n3 on 127.0.0.1 (n1 and n2 <c>fast</c>, n3
/// <c>slow</c>) in partition <c>lab</c>, every file under <paramref name="Dir"/>, the cluster's own munge socket.
/// Where a value differs from Slurm's default, the comment says why; docs/SLURM-FACTS.md says what the defaults do.
/// </summary>
public sealed record SlurmConfig(string ClusterName, string Dir, string MungeSocket, int ControllerPort, IReadOnlyList<int> NodePorts, TimeSpan MinJobAge)
{
    public static readonly IReadOnlyList<string> Nodes = ["n1", "n2", "n3"];

    public const string Partition = "lab";

    public string Render()
    {
        string user = Environment.UserName;
        string nodes = string.Join("\n", Nodes.Select((node, i) =>
            $"NodeName={node} NodeAddr=127.0.0.1 Port={NodePorts[i]} CPUs={Environment.ProcessorCount} Features={(node == "n3" ? "slow" : "fast")} State=UNKNOWN"));
        // SlurmctldHost: slurmctld only runs on a host of that (short) name.
        // SlurmUser/SlurmdUser: whoever runs the tests, root or not; a cluster not run by root runs only its user's jobs.
        // proctrack/pgid, task/none: no cgroups, so it runs in any container; a job is its process group.
        // ReturnToService=2: a node that was down is back as soon as its slurmd registers again.
        // KillWait=5: a job that ignores SIGTERM on scancel gets SIGKILL after 5 s, not 30.
        // batch_sched_delay=0: a job starts on the controller's next tick (about 1 s), not up to 3 s after sbatch.
        return $"""
            ClusterName={ClusterName}
            SlurmctldHost={Environment.MachineName}(127.0.0.1)
            SlurmctldPort={ControllerPort}
            SlurmUser={user}
            SlurmdUser={user}
            AuthType=auth/munge
            AuthInfo=socket={MungeSocket}
            CredType=cred/munge
            StateSaveLocation={Dir}/state
            SlurmdSpoolDir={Dir}/spool/%n
            SlurmctldPidFile={Dir}/run/slurmctld.pid
            SlurmdPidFile={Dir}/run/slurmd-%n.pid
            SlurmctldLogFile={Dir}/log/slurmctld.log
            SlurmdLogFile={Dir}/log/slurmd-%n.log
            ProctrackType=proctrack/pgid
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            MpiDefault=none
            SwitchType=switch/none
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            JobCompType=jobcomp/none
            ReturnToService=2
            MinJobAge={(int)MinJobAge.TotalSeconds}
            KillWait=5
            SchedulerParameters=batch_sched_delay=0
            {nodes}
            PartitionName={Partition} Nodes=n[1-3] Default=YES MaxTime=INFINITE State=UP

            """;
    }
}
