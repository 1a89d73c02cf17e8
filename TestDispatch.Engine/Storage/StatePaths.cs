namespace TestDispatch.Engine.Storage;

/// <summary>Where everything lives in a state dir (docs/DESIGN.md §5). Operators and tools rely on these names.</summary>
public sealed record StatePaths(string Root)
{
    public string StateLock => Path.Combine(Root, "state.lock");
    public string AgentLock => Path.Combine(Root, "agent.lock");
    public string HistoryLock => Path.Combine(Root, "history.lock"); // shared by walks of history, see HistoryHold
    public string AgentLog => Path.Combine(Root, "agent.log");
    public string Snapshot => Path.Combine(Root, "snapshot.json");
    public string SnapshotTemp => Path.Combine(Root, "snapshot.json.tmp");
    public string RunsDir => Path.Combine(Root, "runs");

    /// <summary>Immutable history segments and their index (see <see cref="History"/>).</summary>
    public string HistoryDir => Path.Combine(Root, "history");
    public string HistoryIndex => Path.Combine(HistoryDir, "index.json");

    public string Segment(long number) => Path.Combine(HistoryDir, $"segment.{number}.jsonl");

    public string IdIndex(long generation) => Path.Combine(HistoryDir, $"ids.{generation}.idx");

    /// <summary>Where each hot batch's entries are kept, one file per batch (see <see cref="BatchFiles"/>).</summary>
    public string BatchesDir => Path.Combine(Root, "batches");

    public string BatchFile(string id) => Path.Combine(BatchesDir, $"{id}.json");

    public string Journal(long generation) => Path.Combine(Root, $"journal.{generation}.jsonl");

    public string RunDir(string id) => Path.Combine(RunsDir, id);

    public string Log(string id) => Path.Combine(RunDir(id), "output.log");

    public string Artifacts(string id) => Path.Combine(RunDir(id), "artifacts");

    public string Work(string id) => Path.Combine(RunDir(id), "work");

    /// <summary>A run's test cases, read from its JUnit reports (see <see cref="Results.ResultsFile"/>).</summary>
    public string Results(string id) => Path.Combine(RunDir(id), Engine.Results.ResultsFile.FileName);

    /// <summary>How each case of each run with results ended (see <see cref="Engine.Results.CaseIndex"/>).</summary>
    public string CaseIndex => Path.Combine(Root, Engine.Results.CaseIndex.FileName);

    /// <summary>Held while <see cref="CaseIndex"/> is appended to or rewritten.</summary>
    public string CaseIndexLock => CaseIndex + ".lock";
}
