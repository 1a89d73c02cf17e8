using TestDispatch.Engine.Logs;

namespace TestDispatch.Tests.Logs;

[Trait("Category", "Unit")]
public class VolatileTokensTests
{
    [Theory]
    // ISO 8601 / RFC 3339, compact, syslog, ctime
    [InlineData("2025-07-12T14:03:22.123456Z INFO start", "<timestamp> INFO start")]
    [InlineData("at 2025-07-12 14:03:22,123+02:00 ok", "at <timestamp> ok")]
    [InlineData("built 2025-07-12", "built <timestamp>")]
    [InlineData("stamp 20250712T140322Z", "stamp <timestamp>")]
    [InlineData("Jul 12 14:03:22 lab-07 kernel: up", "<timestamp> lab-07 kernel: up")]
    [InlineData("Sat Jul  5 14:03:22 2025 started", "<timestamp> started")]
    // times of day and kernel uptime
    [InlineData("[14:03:22.123] net: up", "[<time>] net: up")]
    [InlineData("done at 9:05:00", "done at <time>")]
    [InlineData("[  123.456789] eth0: link up", "<uptime> eth0: link up")]
    // durations
    [InlineData("PASS test_x 0.123s", "PASS test_x <duration>")]
    [InlineData("after 12ms, then 250 ms, then 3 seconds", "after <duration>, then <duration>, then <duration>")]
    [InlineData("took 3m05s or 1h2m3.5s", "took <duration> or <duration>")]
    [InlineData("elapsed 0:00:01.5", "elapsed <time>")]
    // UUIDs, hex ids, run ids, memory addresses
    [InlineData("request 3fa2b9c0-1d4e-4f60-a123-0123456789ab done", "request <uuid> done")]
    [InlineData("session 3fa2b9c01d4e5f60 closed", "session <hex> closed")]
    [InlineData("commit a1b2c3d4e5", "commit <hex>")]
    [InlineData("trace 1234567890123456 sent", "trace <hex> sent")]
    [InlineData("run 123456789012 started", "run <run> started")]
    [InlineData("/var/lib/td/runs/3fa2b9c01d4e/output.log", "/var/lib/td/runs/<run>/output.log")]
    [InlineData("buffer at 0x7ffd1a2b3c4d", "buffer at <addr>")]
    // pids
    [InlineData("worker pid=12345 up", "worker pid=<pid> up")]
    [InlineData("started pid 4242, PID: 77", "started pid <pid>, PID: <pid>")]
    [InlineData("harness[4242]: step 3", "harness[<pid>]: step 3")]
    // temp paths
    [InlineData("wrote /tmp/tmp.Xa83kLq0Pz/out_3.bin", "wrote <tmp>/out_3.bin")]
    [InlineData("cache /var/tmp/build-42/obj and /dev/shm/sem.x1", "cache <tmp>/obj and <tmp>")]
    [InlineData("python made tmpk2j4_x9q", "python made <tmp>")]
    [InlineData("mktemp gave tmp.ABCdefGHIj", "mktemp gave <tmp>")]
    // addresses and ports
    [InlineData("connecting to 10.1.2.3:40212 now", "connecting to <ip> now")]
    [InlineData("peer 192.168.0.1.", "peer <ip>.")]
    [InlineData("listening on [::1]:8080 and fe80::1%eth0", "listening on [<ip> and <ip>")]
    [InlineData("v6 2001:db8::ff00:42:8329 up", "v6 <ip> up")]
    [InlineData("served on localhost:43127", "served on localhost:<port>")]
    // Unix time
    [InlineData("ts=1718200000 at 1718200000123", "ts=<epoch> at <epoch>")]
    [InlineData("t 1718200000.25", "t <epoch>")]
    public void Volatile_tokens_fold_into_their_kind(string line, string folded)
    {
        Assert.Equal(folded, VolatileTokens.Fold(line));
    }

    [Theory]
    [InlineData("expected 3 frames, got 4")]
    [InlineData("exit code 1; 5 tests; step 3 of 7")]
    [InlineData("wrote 4096 bytes, 104857600 in total, 12345678 records")] // counts, even long ones
    [InlineData("bytes 1610612736")] // ten digits but no time key: a count, not a Unix time
    [InlineData("register 0x1a2b3c4d")] // 32 bits: a value, not a pointer
    [InlineData("deadbeef cafebabe facade")] // hex letters only: words
    [InlineData("firmware version 1.2.3.4; v2.0.0.1")] // four-part versions
    [InlineData("mac 00:1a:2b:3c:4d:5e; std::vector<int>")]
    [InlineData("array[3]: 7; items[12]: 4")] // an index is not a pid
    [InlineData("/home/u/tmp/x and tmpfiles and /work/tmp/y")] // a tmp that is not a temp dir
    [InlineData("100MB free; 5 tests in 3 suites")]
    [InlineData("test_3s_timeout and x2s")] // a unit inside a name is not a duration
    [InlineData("at 14:03 the ratio was 3:2")] // no seconds: not a time
    [InlineData("runs/xyz/output.log; run abc")]
    [InlineData("release 2025-07 of plan 1-2-3")] // not a whole date
    [InlineData("part 3fa2-1d4e-4f60-a123 only")] // not a whole UUID, and its groups too short for hex ids
    [InlineData("values [ 12.345678] mid-line")] // uptime only opens a line or follows "kernel: "
    [InlineData("port 22 on localhost")] // a named port is configuration
    [InlineData("id 1234567890123")] // 13 digits before 2017: no Unix time
    public void Numbers_that_matter_are_left_alone(string line)
    {
        Assert.Equal(line, VolatileTokens.Fold(line));
    }

    [Fact]
    public void Trying_the_rules_only_where_a_token_can_start_finds_what_trying_everywhere_finds()
    {
        // Fragments of every rule, glued at random with separators and word chars, so tokens meet every kind of neighbour.
        string[] fragments =
        [
            "2025-07-12T14:03:22.123Z", "Jul 12 14:03:22", "14:03:22", "[ 12.345678]", "0.5s", "3m05s", "250 ms", "3 seconds",
            "3fa2b9c0-1d4e-4f60-a123-0123456789ab", "3fa2b9c01d4e", "runs/3fa2b9c01d4e", "run 3fa2b9c01d4e", "0x7ffd1a2b3c4d",
            "pid=42", "pid 42", "sshd[4242]:", "/tmp/tmp.AbC123xyz/x", "tmpk2j4_x9q", "10.0.0.1:80", "::1", "fe80::1", "localhost:8080",
            "1718200000123", "ts=1718200000", "12345678", "deadbeef", "v1.2.3.4", "kernel: [ 1.234567]", "/var/tmp/b1", "/dev/shm/s",
            "Sat, Jul  5 14:03:22 2025", "20250712T140322Z", "1234567890123456", "x", "_", "-", ".", ":", "/", "[", "]", "=", " ", "é",
        ];
        Random random = new(12345);
        for (int n = 0; n < 5000; n++)
        {
            string line = string.Concat(Enumerable.Range(0, random.Next(1, 12)).Select(_ => fragments[random.Next(fragments.Length)]));

            Assert.Equal(VolatileTokens.Fold(line, gated: false), VolatileTokens.Fold(line));
        }
    }

    [Fact]
    public void The_allocation_free_fold_replaces_the_same_spans()
    {
        string line = "2025-07-12T14:03:22Z worker pid=42 wrote /tmp/tmp.AbC123xyz/out in 12ms: expected 3 got 4";
        char[] folded = new char[line.Length];

        int length = VolatileTokens.FoldInto(line, folded);

        string placeholder = VolatileTokens.Placeholder.ToString();
        Assert.Equal(VolatileTokens.Fold(line).Replace("<timestamp>", placeholder, StringComparison.Ordinal)
            .Replace("<pid>", placeholder, StringComparison.Ordinal).Replace("<tmp>", placeholder, StringComparison.Ordinal)
            .Replace("<duration>", placeholder, StringComparison.Ordinal), new string(folded, 0, length));
    }
}
