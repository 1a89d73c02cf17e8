namespace TestDispatch.Engine.Runs;

/// <summary>
/// Stable error code strings (public contract: scripts branch on them). Add codes; never rename one.
/// The first group appears in a run's <c>error_code</c>; the rest only in CLI errors.
/// </summary>
public static class ErrorCodes
{
    public const string MachineBusy = "machine_busy";
    public const string MachineUnknown = "machine_unknown";
    public const string TestDirNotFound = "test_dir_not_found";
    public const string SpawnFailed = "spawn_failed";
    public const string TransportUnreachable = "transport_unreachable";
    public const string CopyFailed = "copy_failed";
    public const string ArtifactsFailed = "artifacts_failed";
    public const string Timeout = "timeout";
    public const string Interrupted = "interrupted";
    public const string AgentLost = "agent_lost";
    public const string StateCorrupt = "state_corrupt";
    public const string AgentError = "agent_error";

    public const string BadInput = "bad_input";
    public const string ConfigInvalid = "config_invalid";
    public const string RunNotFound = "run_not_found";
    public const string AmbiguousId = "ambiguous_id";
    public const string IllegalTransition = "illegal_transition";
    public const string StateLocked = "state_locked";

    public static bool IsBadInput(string code) => code is
        BadInput or ConfigInvalid or RunNotFound or AmbiguousId or MachineUnknown or TestDirNotFound;
}
