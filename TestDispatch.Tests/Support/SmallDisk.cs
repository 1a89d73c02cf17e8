using CliWrap;
using CliWrap.Buffered;

namespace TestDispatch.Tests.Support;

/// <summary>
/// A small real file system of its own (a tmpfs mounted in a temp dir) that a test fills to the brim and frees again:
/// a real full disk, with the kernel's own ENOSPC. Mounting takes root; where it cannot be done the test is skipped,
/// saying why. Unmounted (lazily, as an agent may still hold a file in it) when disposed.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    private readonly TempDir _dir = new("testdispatch-disk-");

    private SmallDisk()
    {
        Path = _dir.Combine("mnt");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    private string Filler => System.IO.Path.Combine(Path, "filler");

    /// <summary>Mounts a tmpfs of <paramref name="size"/> (mount's syntax: 2m); skips the test if this machine will not.</summary>
    public static async Task<SmallDisk> MountAsync(string size = "2m")
    {
        SmallDisk disk = new();
        BufferedCommandResult mount = await Cli.Wrap("mount").WithArguments(["-t", "tmpfs", "-o", $"size={size},mode=0700", "tmpfs", disk.Path])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        if (mount.ExitCode != 0)
        {
            disk._dir.Dispose();
            Skip.If(true, $"cannot mount a small tmpfs to fill (mount exited {mount.ExitCode}: {mount.StandardError.Trim()}); the test needs root");
        }
        return disk;
    }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Fills the disk until the kernel says ENOSPC, then gives back <paramref name="leave"/> bytes; returns the bytes it took.</summary>
    public long Fill(long leave = 0)
    {
        byte[] chunk = new byte[4096];
        long written = 0;
        using FileStream filler = new(Filler, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
        while (true)
        {
            try
            {
                filler.Write(chunk);
                written += chunk.Length;
            }
            catch (IOException e) when (e.HResult == 28)
            {
                filler.SetLength(Math.Max(0, written - leave));
                return filler.Length;
            }
        }
    }

    /// <summary>
    /// Mounts it read-only (<paramref name="readOnly"/>) or read-write again, as a failing disk or an operator may. Going
    /// read-only waits (up to a deadline) until no process has a file open for writing there, as the kernel requires.
    /// </summary>
    public async Task RemountAsync(bool readOnly)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            BufferedCommandResult remount = await Cli.Wrap("mount").WithArguments(["-o", readOnly ? "remount,ro" : "remount,rw", Path])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
            if (remount.ExitCode == 0)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline && remount.StandardError.Contains("busy", StringComparison.Ordinal),
                $"remount {(readOnly ? "ro" : "rw")} failed: {remount.StandardError}");
            await Task.Delay(50);
        }
    }

    /// <summary>Gives the space back.</summary>
    public void Free() => File.Delete(Filler);

    public void Dispose()
    {
        using (System.Diagnostics.Process umount = System.Diagnostics.Process.Start("umount", ["-l", Path]))
        {
            umount.WaitForExit();
        }
        _dir.Dispose();
    }
}
