using System.Collections;
using System.IO.Abstractions.TestingHelpers;
using System.Reflection;
using System.Text;
using System.Text.Json;
using TestDispatch.Engine.Batches;
using TestDispatch.Engine.Runs;
using TestDispatch.Engine.Storage;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Tests.Storage;

/// <summary>The store's private format: what <see cref="StoreJson"/> writes, <see cref="StoreJsonReader"/> reads back unchanged.</summary>
[Trait("Category", "Unit")]
public class StoreJsonReaderTests
{
    /// <summary>Every settable property set to something other than its default, so a field the reader forgets shows.</summary>
    internal static RunRecord Full() => new()
    {
        Run = new Run
        {
            Id = "0a1b2c3d4e5f",
            Machine = "lab-m01",
            TestDir = "/tests/é a",
            TestDirHash = "hash-a",
            Status = RunStatus.Failed,
            ExitCode = 3,
            StartedAt = new DateTimeOffset(2026, 1, 5, 8, 0, 2, 250, TimeSpan.Zero),
            EndedAt = new DateTimeOffset(2026, 1, 5, 8, 1, 0, TimeSpan.Zero),
            ArtifactsPath = "/state/runs/0a1b2c3d4e5f/artifacts",
            LogsPath = "/state/runs/0a1b2c3d4e5f/output.log",
            ErrorCode = "timeout",
            ErrorMsg = "took \"too\" long\n",
            BatchId = "b-7",
            Node = "n2",
            PlanEntry = "smoke",
            LogCut = true,
            Tests = new Engine.Results.TestCounts(9, 3, 2, 1, 2, 1),
            ResultsError = "artifacts/junit.xml line 3, position 1: Unexpected end of file",
        },
        Spec = new RunSpec(["./run.sh", "--name", "x y"], new TimeSpan(1, 2, 3, 4, 500))
        {
            Settings = new Engine.Configuration.RunSettings(TimeSpan.FromSeconds(3), TimeSpan.FromMinutes(2), 7 << 20, "/home/lab/ssh.json, $TESTDISPATCH__Defaults__KillGrace"),
        },
        Seq = 7,
        CreatedAt = new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero),
        Process = new RunProcess
        {
            Host = "lab@rig-07:2222", BootId = "0b1c-boot", RunDir = "/var/tmp/testdispatch/0a1b2c3d4e5f", WrapperPid = 4320,
            WrapperStartTicks = 987654300, ProcessGroupId = 4321, StartTicks = 987654321, StartUptime = 9876.54, AgentPid = 1234, JobId = "42",
        },
        Target = new Engine.Configuration.Machine
        {
            Name = "lab-m01", Transport = Engine.Configuration.TransportKind.Ssh, Host = "rig-07", User = "lab", Port = 2222,
            IdentityFile = "~/.ssh/lab", SshOptions = ["-oStrictHostKeyChecking=yes"], WorkRoot = "/var/tmp/td", KeepWorkDir = true, Tags = ["x86", "gpu"], HealthCheck = "/lab/checks/boot",
            Node = "n2", Partition = "lab", Constraint = "fast", SlurmOptions = ["--qos=test"],
        },
        CancelRequestedAt = new DateTimeOffset(2026, 1, 5, 8, 0, 30, TimeSpan.Zero),
        Leftovers = [4330, 4331],
    };

    internal static RunRecord Pending() => new()
    {
        Run = new Run
        {
            Id = "ffeeddccbbaa",
            Machine = "lab-m02",
            TestDir = "/tests/b",
            TestDirHash = "hash-b",
            Status = RunStatus.Pending,
            ArtifactsPath = "/state/runs/ffeeddccbbaa/artifacts",
            LogsPath = "/state/runs/ffeeddccbbaa/output.log",
        },
        Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(30)),
        Seq = 8,
        CreatedAt = new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero),
    };

    [Fact]
    public void Every_field_of_a_run_record_reads_back_as_written()
    {
        RunRecord written = Full();
        AssertNoPropertyIsDefault(written);

        RunRecord read = RoundTrip(written);

        AssertSameValues(written, read);
    }

    [Fact]
    public void Absent_fields_read_back_as_their_defaults_and_nulls_are_not_written()
    {
        RunRecord written = Pending();

        string json = Encoding.UTF8.GetString(Line(written));
        RunRecord read = RoundTrip(written);

        Assert.DoesNotContain("null", json, StringComparison.Ordinal);
        Assert.Single(Occurrences(json, "\"id\""));
        AssertSameValues(written, read);
        Assert.Equal(("", ""), (read.Run.ErrorCode, read.Run.ErrorMsg));
    }

    [Theory]
    [InlineData("not json", "invalid JSON literal")]
    [InlineData("{\"run\":{\"run\":{\"id\":\"x\"", "open JSON object")]
    [InlineData("{\"other\":1}", "must hold one run or one batch")]
    [InlineData("{\"run\":{\"spec\":{\"command\":[],\"timeout\":\"00:01:00\"},\"seq\":1,\"created_at\":\"2026-01-05T08:00:00Z\"}}", "'run' is missing")]
    [InlineData("{\"run\":{\"run\":{\"id\":\"x\",\"machine\":\"m\",\"test_dir\":\"/t\",\"test_dir_hash\":\"h\",\"status\":\"exploded\"}}}", "not a run status")]
    [InlineData("{\"run\":{\"seq\":\"seven\"}}", "expected an integer")]
    [InlineData("{\"run\":{\"created_at\":\"yesterday\"}}", "timestamp")]
    [InlineData("{\"run\":{\"spec\":{\"command\":\"./run.sh\"}}}", "not an array")]
    [InlineData("{\"run\":{\"spec\":{\"timeout\":\"soon\"}}}", "duration")]
    [InlineData("{\"other\":1} {}", "after a single JSON value")]
    public void Damaged_lines_throw_JsonException_saying_what_is_wrong(string line, string expected)
    {
        JsonException error = Assert.ThrowsAny<JsonException>(() => Parse(Encoding.UTF8.GetBytes(line)));

        Assert.Contains(expected, error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_string_that_is_not_UTF8_throws_JsonException()
    {
        byte[] line = Line(Pending());
        int at = Encoding.UTF8.GetString(line).IndexOf("lab-m02", StringComparison.Ordinal);
        line[at] = 0xC3; // a lead byte followed by ASCII: not UTF-8
        line[at + 1] = (byte)'x';

        Assert.ThrowsAny<JsonException>(() => Parse(line));
    }

    internal static BatchRecord FullBatch() => new()
    {
        Id = "b0c1d2e3f4a5",
        Name = "nightly é",
        Plan = "/plans/night ly.json",
        Seq = 3,
        CreatedAt = new DateTimeOffset(2026, 1, 5, 8, 0, 0, 125, TimeSpan.FromHours(1)),
        CancelledAt = new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero),
        RerunOf = "a0a1a2a3a4a5",
        InPlanOrder = true, // never with expected durations in real use; both set here so each is read back
        Entries =
        [
            new BatchEntry
            {
                Name = "boot", TestDir = "/tests/boot", TestDirHash = "hash-boot", Machine = "rig-07",
                Spec = new RunSpec(["./run.sh", "--fast \"x\""], TimeSpan.FromMinutes(20)), Retries = 2, Expected = TimeSpan.FromSeconds(93.5),
            },
            .. Enumerable.Range(0, 3).Select(i => new BatchEntry
            {
                Name = $"gpu-{i}", TestDir = "/tests/gpu é", TestDirHash = "hash-gpu", Tags = ["x86", "gpu"],
                Spec = new RunSpec(["./run.sh"], TimeSpan.FromMinutes(30)),
            }),
        ],
    };

    [Fact]
    public void A_batch_line_is_what_the_generated_serializer_writes_and_reads_back_as_written()
    {
        BatchRecord written = FullBatch();
        AssertNoPropertyIsDefault(written);
        MockFileSystem fs = new();
        fs.Directory.CreateDirectory("/state");
        JournalFile journal = new(fs, "/state/journal.0.jsonl");

        long end = journal.Append(new JournalEntry(null, written), 0, fsync: false);

        byte[] line = fs.File.ReadAllBytes("/state/journal.0.jsonl");
        Assert.Equal(line.Length, end);
        Assert.Equal(Encoding.UTF8.GetString([.. JsonSerializer.SerializeToUtf8Bytes(new JournalEntry(null, written), StoreJson.Default.JournalEntry), (byte)'\n']),
            Encoding.UTF8.GetString(line));
        BatchRecord read = Assert.Single(journal.ReadFrom(0, 0).Entries).Batch!;
        AssertSameValues(written, read);
    }

    [Fact]
    public void The_entries_of_a_batch_read_back_share_what_they_have_in_common()
    {
        BatchRecord read = Parse(JsonSerializer.SerializeToUtf8Bytes(new JournalEntry(null, FullBatch()), StoreJson.Default.JournalEntry)).Batch!;

        BatchEntry[] gpu = [.. read.Entries.Skip(1)];
        Assert.All(gpu, e => Assert.Same(gpu[0].TestDir, e.TestDir));
        Assert.All(gpu, e => Assert.Same(gpu[0].TestDirHash, e.TestDirHash));
        Assert.All(gpu, e => Assert.Same(gpu[0].Tags, e.Tags));
        Assert.All(gpu, e => Assert.Same(gpu[0].Spec, e.Spec));
        Assert.NotSame(read.Entries[0].Spec, gpu[0].Spec);
    }

    private static byte[] Line(RunRecord record) => JsonSerializer.SerializeToUtf8Bytes(new JournalEntry(record), StoreJson.Default.JournalEntry);

    private static RunRecord RoundTrip(RunRecord record) => Parse(Line(record)).Run!;

    private static JournalEntry Parse(byte[] line)
    {
        Utf8JsonReader reader = new(line);
        return new StoreJsonReader().ReadJournalEntry(ref reader);
    }

    private static IEnumerable<int> Occurrences(string text, string part)
    {
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + 1, StringComparison.Ordinal))
        {
            yield return at;
        }
    }

    private static IEnumerable<PropertyInfo> Stored(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite);

    private static void AssertNoPropertyIsDefault(object value)
    {
        foreach (PropertyInfo property in Stored(value.GetType()))
        {
            object? field = property.GetValue(value);
            object? empty = property.PropertyType.IsValueType ? Activator.CreateInstance(property.PropertyType) : null;
            Assert.False(Equals(field, empty) || field is "", $"the sample leaves {value.GetType().Name}.{property.Name} at its default");
            if (field is Run or RunSpec or RunProcess or Engine.Configuration.Machine or BatchEntry)
            {
                AssertNoPropertyIsDefault(field);
            }
        }
    }

    /// <summary>Property by property (a spec's command is a list, which records compare by reference).</summary>
    internal static void AssertSameValues(object expected, object actual)
    {
        foreach (PropertyInfo property in Stored(expected.GetType()))
        {
            object? want = property.GetValue(expected);
            object? got = property.GetValue(actual);
            string name = $"{expected.GetType().Name}.{property.Name}";
            if (want is Run or RunSpec or RunProcess or Engine.Configuration.Machine or BatchEntry && got is not null)
            {
                AssertSameValues(want, got);
            }
            else if (want is IEnumerable items and not string)
            {
                object[] wanted = [.. items.Cast<object>()];
                object[] gotten = got is IEnumerable gotItems ? [.. gotItems.Cast<object>()] : [];
                Assert.True(wanted.Length == gotten.Length, $"{name}: wrote {wanted.Length} items, read {gotten.Length}");
                for (int i = 0; i < wanted.Length; i++)
                {
                    if (wanted[i] is BatchEntry)
                    {
                        AssertSameValues(wanted[i], gotten[i]);
                    }
                    else
                    {
                        Assert.True(Equals(wanted[i], gotten[i]), $"{name}[{i}]: wrote {wanted[i]}, read {gotten[i]}");
                    }
                }
            }
            else
            {
                Assert.True(Equals(want, got), $"{name}: wrote {want}, read {got}");
            }
        }
    }
}
