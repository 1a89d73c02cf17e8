using System.IO.Abstractions;
using TestDispatch.Engine.Runs;

namespace TestDispatch.Engine.Logs;

/// <summary>
/// Copies a run's log to a stream as it grows, reading only new bytes with a fixed buffer, so memory
/// stays flat whatever the log's size. Ends once the run is terminal and everything it wrote is copied.
/// Bytes are copied as they are: binary or non-UTF-8 output passes through untouched.
/// </summary>
public sealed class LogFollower(IFileSystem fs, Func<string, Run> runOf)
{
    private const int BufferSize = 256 * 1024;

    private static readonly TimeSpan KeepAgentEvery = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Copies from <paramref name="offset"/> until the run ends; returns the run as it ended. Every few seconds calls
    /// <paramref name="keepAgent"/>, which makes sure an agent follows the run (see <see cref="Lab.FollowLogAsync"/>).
    /// </summary>
    public async Task<Run> FollowAsync(string runId, Stream output, long offset = 0, Func<CancellationToken, Task>? keepAgent = null,
        CancellationToken cancellationToken = default)
    {
        byte[] buffer = new byte[BufferSize];
        Stream? log = null;
        DateTime nextAgentCheck = DateTime.UtcNow + KeepAgentEvery;
        try
        {
            while (true)
            {
                if (keepAgent is not null && DateTime.UtcNow >= nextAgentCheck)
                {
                    await keepAgent(cancellationToken);
                    nextAgentCheck = DateTime.UtcNow + KeepAgentEvery;
                }
                // Look at the status before draining: whatever the run wrote before it ended is then copied.
                Run run = runOf(runId);
                log ??= TryOpen(run.LogsPath);
                bool copied = false;
                if (log is not null)
                {
                    log.Seek(offset, SeekOrigin.Begin);
                    int read;
                    while ((read = await log.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                        offset += read;
                        copied = true;
                    }
                    await output.FlushAsync(cancellationToken);
                }
                if (run.Status.IsTerminal())
                {
                    return run;
                }
                if (!copied)
                {
                    await Task.Delay(50, cancellationToken);
                }
            }
        }
        finally
        {
            if (log is not null)
            {
                await log.DisposeAsync();
            }
        }
    }

    /// <summary>Copies the whole log, or its last <paramref name="lastLines"/> lines, as it is now.</summary>
    public async Task CopyAsync(Run run, Stream output, int? lastLines = null, CancellationToken cancellationToken = default)
    {
        await using Stream? log = TryOpen(run.LogsPath);
        if (log is null)
        {
            return;
        }
        log.Seek(lastLines is { } n ? LogTail.StartOfLastLines(log, n) : 0, SeekOrigin.Begin);
        await log.CopyToAsync(output, BufferSize, cancellationToken);
        await output.FlushAsync(cancellationToken);
    }

    /// <summary>Where following from the last <paramref name="lines"/> lines starts (0 when there is no log yet).</summary>
    public long OffsetOfLastLines(Run run, int lines)
    {
        using Stream? log = TryOpen(run.LogsPath);
        return log is null ? 0 : LogTail.StartOfLastLines(log, lines);
    }

    private Stream? TryOpen(string path)
    {
        try
        {
            return fs.FileStream.New(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
