using System.Formats.Tar;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.IO;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// How bytes go to and from one ssh machine (docs/SSH.md, "rsync"): a test dir by rsync (modes kept), or as a tar archive in
/// a stream over the connection where the machine has no rsync (or its login shell garbles rsync's protocol); artifacts back
/// by rsync <c>--safe-links</c>, or by tar with the same rule (links that are absolute or lead out of the artifacts are
/// dropped). A dropped connection under a copy costs a reconnect and a second copy, never the run.
/// </summary>
internal sealed class SshCopier(SshConnection connection, TimedLog log)
{
    public static readonly TimeSpan CopyLimit = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan CallLimit = TimeSpan.FromSeconds(60);

    /// <summary>A test dir this small goes inline in the launch script (tar, base64): one round trip instead of three.</summary>
    private const long InlineBytes = 512 * 1024;

    private volatile bool _rsyncUnusable;

    private Machine Machine => connection.Machine;

    /// <summary>Whether rsync is worth trying on this machine: it has one, and it talked the last time it was tried.</summary>
    public bool UsesRsync(bool hasRsync) => hasRsync && !_rsyncUnusable;

    /// <summary>Copies <paramref name="testDir"/> into <c>DIR/work</c> on the machine; null when it is there, else why not.</summary>
    public async Task<ExecutionResult?> CopyInAsync(string testDir, string dir, IReadOnlySet<string> programs, CancellationToken cancellationToken)
    {
        if (UsesRsync(programs.Contains("rsync")))
        {
            (int exit, string error) = await RsyncAsync(
                ["-rlpt", "--delete", "--", testDir.TrimEnd('/') + "/", connection.Endpoint.RsyncPath(dir + "/work/")], cancellationToken);
            if (exit == 0)
            {
                return null;
            }
            if (!RsyncCannotTalk(exit))
            {
                return await CopyFailureAsync($"rsync of {testDir} to {dir}/work on {Machine.Name} failed (rsync exit {exit}): {Last(error)}",
                    ErrorCodes.CopyFailed, cancellationToken);
            }
            NoteRsyncCannotTalk(exit, error);
        }
        if (!programs.Contains("tar"))
        {
            return ExecutionResult.Failure(ErrorCodes.CopyFailed,
                $"{Machine.Name} has neither rsync nor tar to receive the test dir; install rsync there");
        }
        Exception? unreadable = null;
        try
        {
            // The archive is made as it is sent: tar's bytes go straight into ssh's stdin, whatever the test dir's size.
            await connection.StreamAsync("unpack the test dir", nonce => RemoteScripts.Unpack(nonce, dir), async (stdin, token) =>
            {
                try
                {
                    await TarFile.CreateFromDirectoryAsync(testDir, stdin, includeBaseDirectory: false, token);
                }
                catch (Exception e) when (e is UnauthorizedAccessException or DirectoryNotFoundException or FileNotFoundException)
                {
                    unreadable = e; // the machine gets a cut archive, and says so in its status
                }
            }, receive: null, CopyLimit, cancellationToken);
        }
        catch (SshException e) when (unreadable is null)
        {
            return ExecutionResult.Failure(e.Unreachable ? ErrorCodes.TransportUnreachable : ErrorCodes.CopyFailed,
                $"copying {testDir} to {dir}/work on {Machine.Name} (tar over ssh) failed: {e.Message}");
        }
        catch (SshException)
        {
            // the machine's tar saw the archive cut short where this side could not read: that is the reason to give
        }
        return unreadable is null ? null : ExecutionResult.Failure(ErrorCodes.CopyFailed, $"could not read {testDir} to copy it: {unreadable.Message}");
    }

    /// <summary>
    /// Brings the run's <paramref name="remote"/> directory (its artifacts, or its gathered reports) back into
    /// <paramref name="local"/>; what arrived is kept whatever fails.
    /// </summary>
    public async Task<ExecutionResult?> CopyBackAsync(string remote, string local, bool hasRsync, CancellationToken cancellationToken)
    {
        if (!UsesRsync(hasRsync))
        {
            return await TarBackAsync(remote, local, cancellationToken);
        }
        (int exit, string error) = await RsyncAsync(
            ["-rlt", "--safe-links", "--", connection.Endpoint.RsyncPath(remote + "/"), local + "/"], cancellationToken);
        if (RsyncCannotTalk(exit))
        {
            // No rsync there (a machine this agent has not copied to), or a login shell that talks on stdout: tar over ssh instead.
            NoteRsyncCannotTalk(exit, error);
            return await TarBackAsync(remote, local, cancellationToken);
        }
        return exit == 0 ? null : await CopyFailureAsync(
            $"copying {remote} back from {Machine.Name} failed (rsync exit {exit}): {Last(error)}; what arrived is kept",
            ErrorCodes.ArtifactsFailed, cancellationToken);
    }

    /// <summary>The test dir as a base64 tar archive if it is small enough to go inline in a launch script; else null.</summary>
    public static string? Inline(string testDir)
    {
        try
        {
            return Small(testDir) ? Archive(testDir) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // the stepwise launch's copy says what cannot be read
        }
    }

    /// <summary>The symlinks under <paramref name="dir"/>, never descending into one (a link to "." or ".." must not be followed round).</summary>
    public static int CountLinks(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return 0;
        }
        int links = 0;
        foreach (FileSystemInfo entry in new DirectoryInfo(dir).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true }))
        {
            if (entry.LinkTarget is not null)
            {
                links++;
            }
            else if (entry is DirectoryInfo sub)
            {
                links += CountLinks(sub.FullName);
            }
        }
        return links;
    }

    private static bool Small(string testDir)
    {
        long total = 0;
        foreach (FileInfo file in new DirectoryInfo(testDir).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            total += file.Length;
            if (total > InlineBytes)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A directory as a tar archive (modes kept, symlinks as links) in base64 lines, for a here-document.</summary>
    private static string Archive(string dir)
    {
        using MemoryStream tar = new();
        TarFile.CreateFromDirectory(dir, tar, includeBaseDirectory: false);
        return Convert.ToBase64String(tar.ToArray(), Base64FormattingOptions.InsertLineBreaks).Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    /// <summary>
    /// A run's directory as a tar archive over ssh, unpacked as it comes; symlinks that are absolute or lead out of it are
    /// dropped, as rsync's --safe-links does.
    /// </summary>
    private async Task<ExecutionResult?> TarBackAsync(string remote, string local, CancellationToken cancellationToken)
    {
        try
        {
            await connection.StreamAsync($"pack {remote}", nonce => RemoteScripts.Pack(nonce, remote), send: null,
                (stdout, token) => ExtractAsync(stdout, local, token), CopyLimit, cancellationToken);
            return null;
        }
        catch (Exception e) when (e is SshException or IOException or UnauthorizedAccessException)
        {
            return ExecutionResult.Failure(ErrorCodes.ArtifactsFailed, $"copying {remote} back from {Machine.Name} (tar over ssh) failed: {e.Message}");
        }
    }

    /// <summary>Unpacks a tar stream into <paramref name="local"/> entry by entry, keeping only what stays inside it.</summary>
    private static async Task ExtractAsync(Stream archive, string local, CancellationToken cancellationToken)
    {
        await using TarReader reader = new(archive, leaveOpen: true);
        string root = Path.GetFullPath(local) + Path.DirectorySeparatorChar;
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
        {
            string target = Path.GetFullPath(Path.Combine(local, entry.Name));
            if (!target.StartsWith(root, StringComparison.Ordinal) && target + Path.DirectorySeparatorChar != root)
            {
                continue;
            }
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    Directory.CreateDirectory(target);
                    break;
                case TarEntryType.SymbolicLink:
                    string resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(target)!, entry.LinkName));
                    if (!Path.IsPathRooted(entry.LinkName) && resolved.StartsWith(root, StringComparison.Ordinal))
                    {
                        File.CreateSymbolicLink(target, entry.LinkName);
                    }
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    await entry.ExtractToFileAsync(target, overwrite: true, cancellationToken);
                    break;
            }
        }
    }

    /// <summary>
    /// rsync through the master, tried again (twice at most) when the connection dropped under it (ssh's 255, rsync's 12) and
    /// the machine answers again: a dropped connection or a restarted sshd costs a reconnect, not the run. Both copies are
    /// idempotent (the copy in deletes what it does not bring).
    /// </summary>
    private async Task<(int Exit, string Error)> RsyncAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            (int exit, string error) = await connection.RsyncAsync(arguments, CopyLimit, cancellationToken);
            if (exit is not (255 or 12) || attempt == 2 || !await AnswersAsync(cancellationToken))
            {
                return (exit, error);
            }
            log.Write($"machine {Machine.Name}: the connection dropped under rsync (rsync exit {exit}: {Last(error)}); copying again");
        }
    }

    /// <summary>Whether the machine answers (a new master is started if the old one died).</summary>
    private async Task<bool> AnswersAsync(CancellationToken cancellationToken)
    {
        try
        {
            await connection.RunAsync("check the connection", RemoteScripts.Ping, CallLimit, cancellationToken);
            return true;
        }
        catch (SshException)
        {
            return false;
        }
    }

    /// <summary>
    /// rsync's exits that say it could not talk to an rsync on the machine: none there (127), or its protocol garbled (2, 5,
    /// not 12: a dropped connection says that too), as a login shell or profile that prints on stdout does (rsync's "is your
    /// shell clean?"). tar over ssh, whose answer is read between markers, copes with both.
    /// </summary>
    private static bool RsyncCannotTalk(int exit) => exit is 2 or 5 or 127;

    /// <summary>Says why rsync is not used, and stops trying it on this machine.</summary>
    private void NoteRsyncCannotTalk(int exit, string error)
    {
        _rsyncUnusable = true;
        log.Write($"machine {Machine.Name}: rsync could not talk to the machine (rsync exit {exit}: " +
            $"{Last(error)}; no rsync there, or a login shell that prints on stdout); copying by tar over ssh instead");
    }

    /// <summary>A failed copy: transport_unreachable when the machine no longer answers, else <paramref name="code"/>.</summary>
    private async Task<ExecutionResult> CopyFailureAsync(string message, string code, CancellationToken cancellationToken)
    {
        try
        {
            await connection.RunAsync("check the connection", RemoteScripts.Ping, CallLimit, cancellationToken);
            return ExecutionResult.Failure(code, message);
        }
        catch (SshException e) when (e.Unreachable)
        {
            return ExecutionResult.Failure(ErrorCodes.TransportUnreachable, e.Message);
        }
    }

    private static string Last(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
}
