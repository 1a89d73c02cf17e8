namespace TestDispatch.Engine.Configuration;

/// <summary>
/// What a Slurm machine's configuration may hold (docs/DESIGN.md, "Slurm machines"): the transport sets the job's name,
/// output, node and submission mode itself, so <see cref="Machine.SlurmOptions"/> that would change them are refused.
/// </summary>
public static class SlurmSettings
{
    /// <summary>sbatch options the transport cannot allow, short and long forms, with why.</summary>
    private static readonly (string[] Names, string Why)[] Refused =
    [
        (["--wrap"], "the run wrapper is the job's script"),
        (["-o", "--output", "-e", "--error"], "the run's log is written by the run wrapper into the run's directory"),
        (["--parsable"], "the transport asks for the job id itself"),
        (["-a", "--array"], "a run is one job"),
        (["-J", "--job-name"], "the job is named after the run (td-<run id>), which is how it is found again"),
        (["-W", "--wait"], "the agent follows the job; sbatch must return at once"),
    ];

    private static readonly string[] NodeList = ["-w", "--nodelist"];

    /// <summary>Each problem as a sentence naming the machine and the fix; none for a good machine.</summary>
    public static IEnumerable<string> Problems(Machine machine)
    {
        if (string.IsNullOrWhiteSpace(machine.WorkRoot) || !machine.WorkRoot.StartsWith('/'))
        {
            yield return $"WorkRoot '{machine.WorkRoot}' (Slurm machine '{machine.Name}') must be an absolute path on a file system the controller and " +
                "every node share, such as /shared/testdispatch";
        }
        foreach (string value in new[] { machine.Node, machine.Partition, machine.Constraint }.OfType<string>())
        {
            if (value.StartsWith('-') || value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                yield return $"'{value}' (Slurm machine '{machine.Name}') is not a Slurm name: it starts with '-' or holds spaces; give a node, partition or feature as sinfo shows it";
            }
        }
        foreach (string option in machine.SlurmOptions)
        {
            string flag = Flag(option);
            if (Refused.FirstOrDefault(r => r.Names.Contains(flag)) is { Names: not null } refused)
            {
                yield return $"SlurmOptions of machine '{machine.Name}' has {option}, which the slurm transport cannot allow: {refused.Why}; remove it";
            }
            else if (NodeList.Contains(flag))
            {
                yield return machine.Node is null
                    ? $"SlurmOptions of machine '{machine.Name}' has {option}, but the machine is a pool (no Node): name the node in \"Node\" for a " +
                        "machine of one node, or narrow the pool with \"Constraint\""
                    : $"SlurmOptions of machine '{machine.Name}' has {option}: the node is set by \"Node\"; remove it";
            }
        }
    }

    /// <summary>The option's name: "--output" of "--output=x", "-o" of "-ox".</summary>
    private static string Flag(string option) =>
        option.StartsWith("--", StringComparison.Ordinal) ? option.Split('=', 2)[0]
        : option.Length > 2 && option[0] == '-' ? option[..2]
        : option;
}
