using System.Globalization;
using System.Text;

namespace TestDispatch.Bench;

/// <summary>
/// A made-up but realistic test log, line by line: ISO and syslog timestamps, pids, temp paths, run dirs, UUIDs,
/// addresses, durations, stack frames, test results, some non-ASCII text and a few long JSON lines. What a log says
/// comes from <c>contentSeed</c>; the values that change between any two runs (times, pids, ids, temp names) come
/// from <c>runSeed</c>. Two logs with the same content seed and different run seeds are "the same run, twice".
/// </summary>
internal sealed class SyntheticLog(int contentSeed, int runSeed)
{
    private static readonly string[] Levels = ["INFO ", "INFO ", "INFO ", "DEBUG", "DEBUG", "WARN ", "ERROR"];
    private static readonly string[] Components = ["scheduler", "worker-1", "worker-2", "net", "storage", "harness", "dut-ctl", "power"];
    private static readonly string[] Modules = ["io", "net", "power", "thermal", "boot", "flash", "usb", "pcie"];
    private static readonly string[] Methods = ["Execute", "RunStep", "Read", "Write", "Connect", "WaitReady", "Flush", "Dispose"];
    private static readonly string[] Messages =
    [
        "queue depth {0}, inflight {1}",
        "measured throughput {0} MB/s over {1} samples",
        "step {0} of {1} done",
        "voltage rail {0} at {1} mV (limit 3300 mV)",
        "retrying read of register 0x{0:x4} (attempt {1}/5)",
        "expected {0} frames, got {1}",
        "firmware image verified, {0} blocks, {1} bad",
        "temperature sensor {0} reads {1} C",
        "loaded {0} test vectors from suite {1}",
        "closing session {0} after {1} requests",
    ];

    private readonly Random _content = new(contentSeed);
    private readonly Random _run = new(runSeed);
    private readonly StringBuilder _line = new(256);
    private DateTime _clock = new DateTime(2025, 7, 12, 9, 0, 0, DateTimeKind.Utc).AddSeconds(runSeed % 86_400);
    private readonly int _pid = 1000 + (runSeed & 0x7fff);
    private readonly string _runId = Hex(new Random(runSeed ^ 0x5eed), 12);
    private readonly string _tmp = "tmp." + Alnum(new Random(runSeed ^ 0x7e3), 10);

    /// <summary>The next line, without its newline.</summary>
    public string NextLine()
    {
        _clock = _clock.AddTicks(_run.Next(1, 20_000) * 100L);
        _line.Clear();
        CultureInfo c = CultureInfo.InvariantCulture;
        int kind = _content.Next(100);
        int a = _content.Next(1, 5000), b = _content.Next(1, 64);
        string message = string.Format(c, Messages[_content.Next(Messages.Length)], a, b);
        switch (kind)
        {
            case < 30:
                _line.Append(c, $"{_clock:yyyy-MM-ddTHH:mm:ss.ffffff}Z {Levels[_content.Next(Levels.Length)]} [{Components[_content.Next(Components.Length)]}] pid={_pid} {message}");
                break;
            case < 42:
                _line.Append(c, $"{_clock:MMM dd HH:mm:ss} lab-host-{b:00} harness[{_pid}]: {message}");
                break;
            case < 54:
                _line.Append(c, $"[{_clock:HH:mm:ss.fff}] {Components[_content.Next(Components.Length)]}: {message}");
                break;
            case < 62:
                _line.Append(c, $"{(a % 23 == 0 ? "FAIL" : "PASS")} tests/{Modules[b % Modules.Length]}/test_{Methods[a % Methods.Length].ToLowerInvariant()}.py::test_case_{a}[size={1 << (b % 16)}] {_run.Next(1, 3000) / 1000.0:0.000}s");
                break;
            case < 70:
                _line.Append(c, $"    at Lab.Harness.{Modules[b % Modules.Length]}.Runner.{Methods[a % Methods.Length]}(TestCase tc, Int32 step) in /src/harness/{Modules[b % Modules.Length]}/Runner.cs:line {a % 700}");
                break;
            case < 75:
                _line.Append(c, $"connecting to 10.{b}.{a % 250}.{_content.Next(2, 250)}:{_run.Next(32768, 61000)} (attempt {b % 5 + 1}/5) after {_run.Next(1, 999)}ms");
                break;
            case < 80:
                _line.Append(c, $"wrote {a * 512} bytes to /tmp/{_tmp}/out_{b}.bin in {_run.Next(1, 90)}m{_run.Next(0, 60):00}s");
                break;
            case < 84:
                _line.Append(c, $"allocated buffer at 0x7ffd{_run.Next():x8} ({a} KiB) for request {Guid(_run)}");
                break;
            case < 88:
                _line.Append(c, $"artifacts of run {_runId} saved to /var/lib/testdispatch/runs/{_runId}/artifacts/capture_{b}.pcap");
                break;
            case < 92:
                _line.Append(c, $"température mesurée: {a % 90}.{b % 10} °C — état nominal ✓ (capteur n°{b})");
                break;
            case < 96:
                _line.Append(c, $"progress: {a}/5000 ({a / 50}%) elapsed 0:{_run.Next(0, 59):00}:{_run.Next(0, 59):00}.{_run.Next(0, 9)}");
                break;
            case < 99:
                _line.Append(c, $"{_clock:yyyy-MM-ddTHH:mm:ss.fff}+02:00 {Levels[b % Levels.Length]} {message}; session {Hex(_run, 16)}");
                break;
            default:
                _line.Append(c, $"{{\"event\":\"metrics\",\"run\":\"{_runId}\",\"samples\":[");
                int samples = _content.Next(100, 900);
                for (int i = 0; i < samples; i++)
                {
                    _line.Append(c, $"{(i == 0 ? "" : ",")}{_content.Next(0, 100_000)}");
                }
                _line.Append("]}");
                break;
        }
        return _line.ToString();
    }

    /// <summary>A whole log of about <paramref name="bytes"/> bytes, with <paramref name="extra"/> (if any) inserted every so often.</summary>
    public byte[] Write(int bytes, Func<Random, string?>? extra = null)
    {
        StringBuilder log = new(bytes + 4096);
        while (log.Length < bytes)
        {
            if (extra?.Invoke(_content) is { } line)
            {
                log.Append(line).Append('\n');
            }
            log.Append(NextLine()).Append('\n');
        }
        return Encoding.UTF8.GetBytes(log.ToString());
    }

    private static string Hex(Random random, int digits) =>
        string.Create(digits, random, (span, r) => { for (int i = 0; i < span.Length; i++) { span[i] = "0123456789abcdef"[r.Next(16)]; } });

    private static string Alnum(Random random, int length) =>
        string.Create(length, random, (span, r) => { for (int i = 0; i < span.Length; i++) { span[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[r.Next(62)]; } });

    private static string Guid(Random random) => $"{Hex(random, 8)}-{Hex(random, 4)}-4{Hex(random, 3)}-a{Hex(random, 3)}-{Hex(random, 12)}";
}
