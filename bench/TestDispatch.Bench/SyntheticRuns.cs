using System.Security.Cryptography;
using System.Text;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Bench;

/// <summary>Made-up but realistic run records for the benchmarks' big stores, and small facts about this host.</summary>
internal static class SyntheticRuns
{
    /// <summary>
    /// A run created 3 minutes after the one before it (<paramref name="seq"/> counts from <paramref name="epoch"/>),
    /// started 2 s later and, if terminal, ended 30 s to 10 min after that, with the verdict fields its status implies.
    /// </summary>
    public static RunRecord Record(StatePaths paths, string id, long seq, string machine, string testDir, RunStatus status,
        RunSpec spec, DateTimeOffset epoch, RunProcess? process = null)
    {
        DateTimeOffset created = epoch + TimeSpan.FromMinutes(3 * seq);
        DateTimeOffset started = created + TimeSpan.FromSeconds(2);
        return new RunRecord
        {
            Run = new Run
            {
                Id = id,
                Machine = machine,
                TestDir = testDir,
                TestDirHash = Hash(testDir),
                Status = status,
                ExitCode = status switch { RunStatus.Completed => 0, RunStatus.Failed => 1, _ => null },
                StartedAt = started,
                EndedAt = status.IsTerminal() ? started + TimeSpan.FromSeconds(30 + seq % 600) : null,
                ArtifactsPath = paths.Artifacts(id),
                LogsPath = paths.Log(id),
                ErrorCode = status switch { RunStatus.Timeout => ErrorCodes.Timeout, RunStatus.Interrupted => ErrorCodes.Interrupted, _ => "" },
                ErrorMsg = status switch
                {
                    RunStatus.Timeout => "the test ran longer than its 30 min limit and was killed",
                    RunStatus.Interrupted => "cancelled by the user",
                    _ => "",
                },
            },
            Spec = spec,
            Seq = seq,
            CreatedAt = created,
            // The store keeps a process only while its run is active (RunStore drops a finished run's).
            Process = status.IsTerminal() ? null : process,
        };
    }

    public static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>The 1, 5 and 15 minute load averages, or "?".</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
