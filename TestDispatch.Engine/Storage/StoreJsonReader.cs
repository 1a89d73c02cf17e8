using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Results;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Wrapper;
using static TestDispatch.Engine.Storage.Utf8JsonReaderExtensions;

namespace TestDispatch.Engine.Storage;

/// <summary>
/// Reads the store's files (snapshot, journal lines) in the private JSON shape <see cref="StoreJson"/> writes, by hand:
/// every cold start parses the whole snapshot, and the generated deserializer took ~1 s and 270 MiB for 100k runs.
/// Values that repeat from run to run (machine, test dir, hash, command, error text) become one shared string, and a
/// spec equal to the previous run's is that one. Unknown properties are skipped and absent optional ones keep their
/// defaults, so files written before nulls were left out (or with the old duplicate "id") still load. Damage throws
/// <see cref="JsonException"/>; the caller names the file. One instance per thread: it caches what it has read.
/// The per-run methods are compiled optimized at once: a CLI process parses the snapshot once, before tiered
/// compilation would get to them (-10% for a fresh process).
/// </summary>
internal sealed class StoreJsonReader
{
    private static readonly (byte[] Word, RunStatus Status)[] Statuses =
        [.. Enum.GetValues<RunStatus>().Select(s => (Encoding.UTF8.GetBytes(s.ToWord()), s))];

    private readonly HashSet<string> _shared = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _sharedByChars;
    private readonly List<string> _command = []; // scratch for a list being read (a command, tags)
    private RunSpec? _lastSpec;
    private RunSettings? _lastSettings;
    private IReadOnlyList<string>? _lastTags;

    public StoreJsonReader() => _sharedByChars = _shared.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// The entries of a batch the caller already holds, by batch id, or null: they are taken as they are instead of
    /// being read again (a batch's entries never change once it is submitted; its id comes before them in a record).
    /// </summary>
    public Func<string, IReadOnlyList<BatchEntry>?>? KnownEntries { get; init; }

    /// <summary>
    /// Where the entries of a batch written without them (a snapshot's, with their count) are found: by batch id and
    /// count (see <see cref="BatchFiles"/>). Without it such a batch is damage.
    /// </summary>
    public Func<string, int?, IReadOnlyList<BatchEntry>>? EntriesElsewhere { get; init; }

    /// <summary>A batch record, the reader on its start.</summary>
    public BatchRecord ReadBatchRecord(ref Utf8JsonReader reader) => ReadBatch(ref reader);

    /// <summary>
    /// The first object of a snapshot: its generation and how many records follow it (<see cref="SnapshotFile.WriteTo"/>), or,
    /// in the older one-object form, the generation and the runs themselves (and then nothing may follow); and the batches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (long Generation, int Count, List<RunRecord>? Runs, List<BatchRecord> Batches, long SeqFloor, long BatchSeqFloor, List<BatchTries>? Tried,
        long HistoryGeneration) ReadSnapshotHeader(ref Utf8JsonReader reader)
    {
        long seqFloor = 0, batchSeqFloor = 0, historyGeneration = 0;
        long? generation = null;
        int? count = null;
        List<RunRecord>? runs = null;
        List<BatchRecord> batches = [];
        List<BatchTries>? tried = null;
        reader.Next();
        reader.ExpectObject("a snapshot header");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("generation"u8))
            {
                generation = reader.NextInt64();
            }
            else if (reader.ValueTextEquals("count"u8))
            {
                count = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("seq_floor"u8))
            {
                seqFloor = reader.NextInt64();
            }
            else if (reader.ValueTextEquals("batch_seq_floor"u8))
            {
                batchSeqFloor = reader.NextInt64();
            }
            else if (reader.ValueTextEquals("history_generation"u8))
            {
                historyGeneration = reader.NextInt64();
            }
            else if (reader.ValueTextEquals("runs"u8))
            {
                reader.NextArray("runs");
                runs = [];
                while (reader.Next() != JsonTokenType.EndArray)
                {
                    runs.Add(ReadRecord(ref reader));
                }
            }
            else if (reader.ValueTextEquals("batches"u8))
            {
                if (reader.Next() == JsonTokenType.StartArray)
                {
                    while (reader.Next() != JsonTokenType.EndArray)
                    {
                        batches.Add(ReadBatch(ref reader));
                    }
                }
                else if (reader.TokenType != JsonTokenType.Null)
                {
                    throw new JsonException("'batches' is not an array");
                }
            }
            else if (reader.ValueTextEquals("tried"u8))
            {
                reader.NextArray("tried");
                tried = [];
                while (reader.Next() != JsonTokenType.EndArray)
                {
                    tried.Add(ReadBatchTries(ref reader));
                }
            }
            else
            {
                reader.Skip();
            }
        }
        if (runs is not null)
        {
            reader.ExpectEnd("the snapshot");
        }
        return (generation ?? throw Missing("generation"), runs?.Count ?? count ?? throw Missing("count"), runs, batches, seqFloor, batchSeqFloor, tried, historyGeneration);
    }

    /// <summary>A <see cref="BatchTries"/>, the reader on its start.</summary>
    private BatchTries ReadBatchTries(ref Utf8JsonReader reader)
    {
        string? batch = null;
        List<EntryTries> entries = [];
        reader.ExpectObject("a batch's tries");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("batch"u8))
            {
                batch = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("entries"u8))
            {
                reader.NextArray("tried.entries");
                while (reader.Next() != JsonTokenType.EndArray)
                {
                    entries.Add(ReadEntryTries(ref reader));
                }
            }
            else
            {
                reader.Skip();
            }
        }
        return new BatchTries(batch ?? throw Missing("tried.batch"), entries);
    }

    private EntryTries ReadEntryTries(ref Utf8JsonReader reader)
    {
        int? entry = null, tries = null;
        LatestTry? last = null;
        reader.ExpectObject("an entry's tries");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("entry"u8))
            {
                entry = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("tries"u8))
            {
                tries = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("last"u8))
            {
                last = ReadLatestTry(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }
        return new EntryTries(entry ?? throw Missing("tried.entry"), tries ?? throw Missing("tried.tries"), last ?? throw Missing("tried.last"));
    }

    private LatestTry ReadLatestTry(ref Utf8JsonReader reader)
    {
        string? id = null, machine = null;
        string errorCode = "";
        long? seq = null;
        RunStatus? status = null;
        int? exitCode = null;
        DateTimeOffset? endedAt = null;
        reader.Next();
        reader.ExpectObject("a latest try");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("id"u8))
            {
                id = reader.NextString();
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                seq = reader.NextInt64();
            }
            else if (reader.ValueTextEquals("machine"u8))
            {
                machine = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("status"u8))
            {
                status = NextStatus(ref reader);
            }
            else if (reader.ValueTextEquals("exit_code"u8))
            {
                exitCode = reader.NextNullableInt32();
            }
            else if (reader.ValueTextEquals("error_code"u8))
            {
                errorCode = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("ended_at"u8))
            {
                endedAt = reader.NextTimestamp()?.ToUniversalTime();
            }
            else
            {
                reader.Skip();
            }
        }
        return new LatestTry(id ?? throw Missing("tried.last.id"), seq ?? throw Missing("tried.last.seq"), machine ?? throw Missing("tried.last.machine"),
            status ?? throw Missing("tried.last.status"), exitCode, errorCode, endedAt);
    }

    /// <summary>Run records, one top-level object each, to the end of the data (for a reader that allows several values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public List<RunRecord> ReadRecords(ref Utf8JsonReader reader)
    {
        List<RunRecord> records = [];
        while (reader.Read())
        {
            records.Add(ReadRecord(ref reader));
        }
        return records;
    }

    /// <summary>One journal or segment line; state_corrupt naming <paramref name="where"/> (file and line, or offset) if it does not read.</summary>
    public JournalEntry ReadLine(ReadOnlySpan<byte> line, string where)
    {
        Utf8JsonReader reader = new(line);
        try
        {
            return ReadJournalEntry(ref reader);
        }
        catch (JsonException e)
        {
            throw StateCorruption.At(where, $"invalid at column {reader.TokenStartIndex + 1}: {e.Message}", e);
        }
    }

    /// <summary>One journal line: <c>{"run": record}</c> or <c>{"batch": record}</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public JournalEntry ReadJournalEntry(ref Utf8JsonReader reader)
    {
        RunRecord? record = null;
        BatchRecord? batch = null;
        reader.Next();
        reader.ExpectObject("a journal entry");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("run"u8))
            {
                reader.Next();
                record = ReadRecord(ref reader);
            }
            else if (reader.ValueTextEquals("batch"u8))
            {
                reader.Next();
                batch = ReadBatch(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }
        reader.ExpectEnd("the journal entry");
        return record is null == batch is null
            ? throw new JsonException("the line must hold one run or one batch")
            : new JournalEntry(record, batch);
    }

    /// <summary>The record whose start the reader is on; leaves the reader on its end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private RunRecord ReadRecord(ref Utf8JsonReader reader)
    {
        Run? run = null;
        RunSpec? spec = null;
        long? seq = null;
        DateTimeOffset? createdAt = null;
        RunProcess? process = null;
        Configuration.Machine? target = null;
        List<int>? leftovers = null;
        DateTimeOffset? cancelRequestedAt = null;
        reader.ExpectObject("a run record");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("run"u8))
            {
                run = ReadRun(ref reader);
            }
            else if (reader.ValueTextEquals("spec"u8))
            {
                spec = ReadSpec(ref reader);
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                seq = reader.NextInt64();
            }
            else if (reader.ValueTextEquals("created_at"u8))
            {
                createdAt = reader.NextTimestamp();
            }
            else if (reader.ValueTextEquals("process"u8))
            {
                process = ReadProcess(ref reader);
            }
            else if (reader.ValueTextEquals("leftovers"u8))
            {
                reader.Next();
                leftovers = JsonSerializer.Deserialize(ref reader, StoreJson.Default.ListInt32);
            }
            else if (reader.ValueTextEquals("target"u8))
            {
                reader.Next();
                target = JsonSerializer.Deserialize(ref reader, StoreJson.Default.Machine);
            }
            else if (reader.ValueTextEquals("cancel_requested_at"u8))
            {
                cancelRequestedAt = reader.NextTimestamp();
            }
            else
            {
                reader.Skip();
            }
        }
        return new RunRecord
        {
            Run = run ?? throw Missing("run"),
            Spec = spec ?? throw Missing("spec"),
            Seq = seq ?? throw Missing("seq"),
            CreatedAt = createdAt ?? throw Missing("created_at"),
            Process = process,
            Target = target,
            Leftovers = leftovers,
            CancelRequestedAt = cancelRequestedAt,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Run ReadRun(ref Utf8JsonReader reader)
    {
        string? id = null, machine = null, testDir = null, testDirHash = null, artifactsPath = null, logsPath = null;
        string? batchId = null, planEntry = null, node = null;
        bool? logCut = null;
        TestCounts? tests = null;
        string? resultsError = null;
        string errorCode = "", errorMsg = "";
        RunStatus? status = null;
        int? exitCode = null;
        DateTimeOffset? startedAt = null, endedAt = null;
        reader.Next();
        reader.ExpectObject("a run");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("id"u8))
            {
                id = reader.NextString();
            }
            else if (reader.ValueTextEquals("machine"u8))
            {
                machine = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("test_dir"u8))
            {
                testDir = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("test_dir_hash"u8))
            {
                testDirHash = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("status"u8))
            {
                status = NextStatus(ref reader);
            }
            else if (reader.ValueTextEquals("exit_code"u8))
            {
                exitCode = reader.NextNullableInt32();
            }
            else if (reader.ValueTextEquals("started_at"u8))
            {
                startedAt = reader.NextTimestamp()?.ToUniversalTime();
            }
            else if (reader.ValueTextEquals("ended_at"u8))
            {
                endedAt = reader.NextTimestamp()?.ToUniversalTime();
            }
            else if (reader.ValueTextEquals("artifacts_path"u8))
            {
                artifactsPath = reader.NextString();
            }
            else if (reader.ValueTextEquals("logs_path"u8))
            {
                logsPath = reader.NextString();
            }
            else if (reader.ValueTextEquals("error_code"u8))
            {
                errorCode = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("error_msg"u8))
            {
                errorMsg = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("batch_id"u8))
            {
                batchId = NextSharedString(ref reader, nullable: true);
            }
            else if (reader.ValueTextEquals("plan_entry"u8))
            {
                planEntry = NextSharedString(ref reader, nullable: true);
            }
            else if (reader.ValueTextEquals("node"u8))
            {
                node = NextSharedString(ref reader, nullable: true);
            }
            else if (reader.ValueTextEquals("log_cut"u8))
            {
                logCut = reader.NextNullableBoolean();
            }
            else if (reader.ValueTextEquals("tests"u8))
            {
                tests = ReadCounts(ref reader);
            }
            else if (reader.ValueTextEquals("results_error"u8))
            {
                resultsError = reader.NextString();
            }
            else
            {
                reader.Skip();
            }
        }
        return new Run
        {
            Id = id ?? throw Missing("run.id"),
            Machine = machine ?? throw Missing("run.machine"),
            TestDir = testDir ?? throw Missing("run.test_dir"),
            TestDirHash = testDirHash ?? throw Missing("run.test_dir_hash"),
            Status = status ?? throw Missing("run.status"),
            ExitCode = exitCode,
            StartedAt = startedAt,
            EndedAt = endedAt,
            ArtifactsPath = artifactsPath ?? throw Missing("run.artifacts_path"),
            LogsPath = logsPath ?? throw Missing("run.logs_path"),
            ErrorCode = errorCode,
            ErrorMsg = errorMsg,
            BatchId = batchId,
            Node = node,
            PlanEntry = planEntry,
            LogCut = logCut,
            Tests = tests,
            ResultsError = resultsError,
        };
    }

    /// <summary>A run's test counts (<see cref="TestCounts"/>), or null for a JSON null.</summary>
    private static TestCounts? ReadCounts(ref Utf8JsonReader reader)
    {
        if (reader.Next() == JsonTokenType.Null)
        {
            return null;
        }
        reader.ExpectObject("run.tests");
        int total = 0, passed = 0, failed = 0, errors = 0, skipped = 0, flaky = 0;
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("total"u8))
            {
                total = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("passed"u8))
            {
                passed = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("failed"u8))
            {
                failed = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("errors"u8))
            {
                errors = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("skipped"u8))
            {
                skipped = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("flaky"u8))
            {
                flaky = reader.NextInt32();
            }
            else
            {
                reader.Skip();
            }
        }
        return new TestCounts(total, passed, failed, errors, skipped, flaky);
    }

    /// <summary>Most runs have the configured default command and timeout, so a spec equal to the previous one is that one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private RunSpec ReadSpec(ref Utf8JsonReader reader)
    {
        bool hasCommand = false;
        TimeSpan? timeout = null;
        RunSettings? settings = null;
        reader.Next();
        reader.ExpectObject("a spec");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("command"u8))
            {
                reader.NextArray("spec.command");
                _command.Clear();
                while (reader.Next() != JsonTokenType.EndArray)
                {
                    _command.Add(SharedString(ref reader));
                }
                hasCommand = true;
            }
            else if (reader.ValueTextEquals("timeout"u8))
            {
                timeout = reader.NextDuration();
            }
            else if (reader.ValueTextEquals("settings"u8))
            {
                settings = ReadSettings(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }
        if (!hasCommand || timeout is null)
        {
            throw Missing(hasCommand ? "spec.timeout" : "spec.command");
        }
        if (_lastSpec is not { } last || last.Timeout != timeout || !ReferenceEquals(last.Settings, settings) || !last.Command.SequenceEqual(_command))
        {
            _lastSpec = new RunSpec(_command.ToArray(), timeout.Value) { Settings = settings };
        }
        return _lastSpec;
    }

    /// <summary>A spec's settings; equal to the previous ones, they are those (most runs share their configuration's).</summary>
    private RunSettings ReadSettings(ref Utf8JsonReader reader)
    {
        TimeSpan? killGrace = null, unreachableGrace = null;
        long? logLimit = null;
        string? from = null;
        reader.Next();
        reader.ExpectObject("spec.settings");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("kill_grace"u8))
            {
                killGrace = reader.NextDuration();
            }
            else if (reader.ValueTextEquals("unreachable_grace"u8))
            {
                unreachableGrace = reader.NextDuration();
            }
            else if (reader.ValueTextEquals("log_limit"u8))
            {
                reader.Next();
                logLimit = reader.GetInt64();
            }
            else if (reader.ValueTextEquals("from"u8))
            {
                from = NextSharedString(ref reader);
            }
            else
            {
                reader.Skip();
            }
        }
        RunSettings settings = new(killGrace ?? throw Missing("spec.settings.kill_grace"), unreachableGrace ?? throw Missing("spec.settings.unreachable_grace"),
            logLimit ?? throw Missing("spec.settings.log_limit"), from ?? throw Missing("spec.settings.from"));
        return _lastSettings is { } last && last == settings ? last : _lastSettings = settings;
    }

    /// <summary>
    /// The batch whose start the reader is on; leaves the reader on its end. Its entries mostly share their test dir,
    /// hash, tags and spec, so those are shared too: a 20,000-entry batch took 14 MiB read by the generated reader.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private BatchRecord ReadBatch(ref Utf8JsonReader reader)
    {
        string? id = null, name = null, plan = null, rerunOf = null;
        bool inPlanOrder = false;
        long? seq = null;
        int? entryCount = null;
        DateTimeOffset? createdAt = null, cancelledAt = null;
        IReadOnlyList<BatchEntry>? entries = null;
        reader.ExpectObject("a batch");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("id"u8))
            {
                id = reader.NextString();
            }
            else if (reader.ValueTextEquals("name"u8))
            {
                name = reader.NextString();
            }
            else if (reader.ValueTextEquals("plan"u8))
            {
                plan = reader.NextString();
            }
            else if (reader.ValueTextEquals("seq"u8))
            {
                seq = reader.NextInt64();
            }
            else if (reader.ValueTextEquals("created_at"u8))
            {
                createdAt = reader.NextTimestamp();
            }
            else if (reader.ValueTextEquals("cancelled_at"u8))
            {
                cancelledAt = reader.NextTimestamp();
            }
            else if (reader.ValueTextEquals("rerun_of"u8))
            {
                rerunOf = NextSharedString(ref reader, nullable: true);
            }
            else if (reader.ValueTextEquals("in_plan_order"u8))
            {
                reader.Next();
                inPlanOrder = reader.GetBoolean();
            }
            else if (reader.ValueTextEquals("entry_count"u8))
            {
                entryCount = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("entries"u8))
            {
                reader.NextArray("batch.entries");
                if (id is not null && KnownEntries?.Invoke(id) is { } known)
                {
                    reader.Skip();
                    entries = known;
                    continue;
                }
                List<BatchEntry> read = [];
                while (reader.Next() != JsonTokenType.EndArray)
                {
                    read.Add(ReadBatchEntry(ref reader));
                }
                entries = read;
            }
            else
            {
                reader.Skip();
            }
        }
        return new BatchRecord
        {
            Id = id ?? throw Missing("batch.id"),
            Name = name ?? throw Missing("batch.name"),
            Plan = plan ?? throw Missing("batch.plan"),
            Seq = seq ?? throw Missing("batch.seq"),
            CreatedAt = createdAt ?? throw Missing("batch.created_at"),
            CancelledAt = cancelledAt,
            RerunOf = rerunOf,
            InPlanOrder = inPlanOrder,
            Entries = entries ?? (id is not null && EntriesElsewhere is { } elsewhere ? elsewhere(id, entryCount) : throw Missing("batch.entries")),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private BatchEntry ReadBatchEntry(ref Utf8JsonReader reader)
    {
        string? name = null, testDir = null, testDirHash = null, machine = null;
        IReadOnlyList<string> tags = [];
        RunSpec? spec = null;
        int retries = 0;
        TimeSpan? expected = null;
        reader.ExpectObject("a batch entry");
        while (reader.NextProperty())
        {
            if (reader.ValueTextEquals("name"u8))
            {
                name = reader.NextString();
            }
            else if (reader.ValueTextEquals("test_dir"u8))
            {
                testDir = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("test_dir_hash"u8))
            {
                testDirHash = NextSharedString(ref reader);
            }
            else if (reader.ValueTextEquals("machine"u8))
            {
                machine = NextSharedString(ref reader, nullable: true);
            }
            else if (reader.ValueTextEquals("tags"u8))
            {
                tags = ReadTags(ref reader);
            }
            else if (reader.ValueTextEquals("spec"u8))
            {
                spec = ReadSpec(ref reader);
            }
            else if (reader.ValueTextEquals("retries"u8))
            {
                retries = reader.NextInt32();
            }
            else if (reader.ValueTextEquals("expected"u8))
            {
                expected = reader.NextDuration();
            }
            else
            {
                reader.Skip();
            }
        }
        return new BatchEntry
        {
            Name = name ?? throw Missing("entry.name"),
            TestDir = testDir ?? throw Missing("entry.test_dir"),
            TestDirHash = testDirHash ?? throw Missing("entry.test_dir_hash"),
            Machine = machine,
            Tags = tags,
            Spec = spec ?? throw Missing("entry.spec"),
            Retries = retries,
            Expected = expected,
        };
    }

    /// <summary>An entry's tags; the same list as the previous entry's when they are equal.</summary>
    private IReadOnlyList<string> ReadTags(ref Utf8JsonReader reader)
    {
        reader.NextArray("entry.tags");
        _command.Clear();
        while (reader.Next() != JsonTokenType.EndArray)
        {
            _command.Add(SharedString(ref reader));
        }
        if (_lastTags is not { } last || !last.SequenceEqual(_command))
        {
            _lastTags = _command.Count == 0 ? [] : _command.ToArray();
        }
        return _lastTags;
    }

    /// <summary>Only running runs have one, so the generated reader does (it also reads the older, shorter form).</summary>
    private static RunProcess? ReadProcess(ref Utf8JsonReader reader)
    {
        reader.Next();
        return JsonSerializer.Deserialize(ref reader, StoreJson.Default.RunProcess);
    }

    private static RunStatus NextStatus(ref Utf8JsonReader reader)
    {
        reader.Next();
        reader.ExpectString();
        foreach ((byte[] word, RunStatus status) in Statuses)
        {
            if (reader.ValueTextEquals(word))
            {
                return status;
            }
        }
        throw new JsonException($"'{Encoding.UTF8.GetString(reader.ValueSpan)}' is not a run status");
    }

    private string NextSharedString(ref Utf8JsonReader reader) => NextSharedString(ref reader, nullable: false)!;

    private string? NextSharedString(ref Utf8JsonReader reader, bool nullable) =>
        reader.Next() == JsonTokenType.Null && nullable ? null : SharedString(ref reader);

    /// <summary>The string value the reader is on, as the one instance shared by every run that has it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private string SharedString(ref Utf8JsonReader reader)
    {
        reader.ExpectString();
        if (reader.ValueSpan.IsEmpty)
        {
            return "";
        }
        // Unescaped and transcoded, a value never has more UTF-16 chars than it has UTF-8 bytes.
        Span<char> buffer = stackalloc char[256];
        if (reader.ValueSpan.Length > buffer.Length)
        {
            return reader.CurrentString();
        }
        ReadOnlySpan<char> value = buffer[..reader.CopyCurrentString(buffer)];
        if (!_sharedByChars.TryGetValue(value, out string? shared))
        {
            shared = value.ToString();
            _shared.Add(shared);
        }
        return shared;
    }
}
