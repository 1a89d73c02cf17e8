using System.Globalization;
using System.Text;
using TestDispatch.Engine.Wrapper;

namespace TestDispatch.Engine.Transports.Ssh;

/// <summary>
/// The POSIX sh scripts the ssh transport sends to a machine's <c>/bin/sh -s</c> (docs/SSH.md §5). Every value in them is
/// quoted by <see cref="PosixShell.Quote"/>; each script runs as a function with stdin from /dev/null (so no shell reads
/// past it, whether it buffers its input like dash or reads it line by line like bash), and prints its answer between
/// <c>TD-BEGIN nonce</c> and <c>TD-END nonce STATUS</c>, so a MOTD or a chatty profile changes nothing. The tar copies
/// stream raw bytes: <see cref="Unpack"/> reads an archive sent on stdin only after its begin marker, <see cref="Pack"/>
/// writes one between its markers.
/// </summary>
internal static class RemoteScripts
{
    /// <summary>The most log bytes one look brings back; a follower with more to read looks again at once.</summary>
    public const int LogChunk = 4 << 20;

    /// <summary>Reads the wrapper's files and new log bytes: B boot id, U uptime, W wrapper alive, F/P its files, A artifacts, X work dir removed, L log bytes.</summary>
    private const string LookFunction = """
        td_f22() { shift 19; td_s22=$1; }
        td_look() {
            td_d=$1 td_p=$2 td_t=$3 td_o=$4 td_k=$5
            read -r td_b </proc/sys/kernel/random/boot_id
            printf 'B %s\n' "$td_b"
            read -r td_u _ </proc/uptime
            printf 'U %s\n' "$td_u"
            td_a=0
            if [ "$td_p" -gt 0 ] && IFS= read -r td_st 2>/dev/null <"/proc/$td_p/stat"; then
                td_f22 ${td_st##*) }
                [ "$td_s22" = "$td_t" ] && td_a=1
            fi
            printf 'W %s\n' "$td_a"
            # done first: the wrapper writes it last, so what it follows is there when read after it (see WrapperState.FromFiles)
            for td_n in done wrapper pgid exit stop stopped cut held nolock; do
                if [ -f "$td_d/$td_n" ]; then
                    if IFS= read -r td_line <"$td_d/$td_n"; then printf 'F %s %s\n' "$td_n" "$td_line"; else printf 'P %s\n' "$td_n"; fi
                fi
            done
            if [ -d "$td_d/artifacts" ]; then
                td_c=0
                for td_x in "$td_d/artifacts"/* "$td_d/artifacts"/.[!.]* "$td_d/artifacts"/..?*; do
                    if [ -e "$td_x" ] || [ -L "$td_x" ]; then td_c=$((td_c + 1)); fi
                done
                printf 'A %s\n' "$td_c"
                # Done with no artifacts to bring back: the work dir goes now, saving the finish its round trip.
                if [ -f "$td_d/done" ] && [ "$td_c" -eq 0 ] && [ "$td_k" = 0 ]; then
                    chmod -R u+rwx "$td_d/work" 2>/dev/null
                    rm -rf "$td_d/work" "$td_d/artifacts" && printf 'X 1\n'
                fi
            else
                printf 'A -1\n'
            fi
            td_z=0
            [ -f "$td_d/output.log" ] && td_z=$(wc -c <"$td_d/output.log")
            td_z=$((td_z - td_o))
            [ "$td_z" -lt 0 ] && td_z=0
            [ "$td_z" -gt LOGCHUNK ] && td_z=LOGCHUNK
            printf 'L %s\n' "$td_z"
            if [ "$td_z" -gt 0 ]; then tail -c +$((td_o + 1)) "$td_d/output.log" | head -c "$td_z"; fi
            return 0
        }
        """;

    /// <summary>
    /// Finds the run's directory under the work root (~/ expanded there) as <c>$td_d</c>, reports a wrapper already started
    /// for it (a launch an earlier agent did not live to record: the script ends there), else makes an empty work dir and
    /// writes the wrapper; says which programs the copy may use.
    /// </summary>
    private static string PrepareBody(string nonce, string workRoot, string runId) => $$"""
        td_root={{PosixShell.Quote(workRoot)}}
        case $td_root in "~/"*) td_root=$HOME/${td_root#"~/"} ;; esac
        td_d=$td_root/{{PosixShell.Quote(runId)}}
        printf 'D %s\n' "$td_d"
        read -r td_b </proc/sys/kernel/random/boot_id
        printf 'B %s\n' "$td_b"
        for td_c in rsync setsid base64 tar; do
            command -v "$td_c" >/dev/null 2>&1 && printf 'C %s\n' "$td_c"
        done
        if [ -f "$td_d/wrapper" ] && IFS= read -r td_line <"$td_d/wrapper"; then
            printf 'F wrapper %s\n' "$td_line"
            return 0
        fi
        mkdir -p "$td_root" || return 1
        (umask 077 && mkdir -p "$td_d") || return 1
        if [ -d "$td_d/work" ]; then chmod -R u+rwx "$td_d/work" 2>/dev/null; rm -rf "$td_d/work" || return 1; fi
        mkdir "$td_d/work" "$td_d/artifacts" 2>/dev/null
        [ -d "$td_d/work" ] && [ -d "$td_d/artifacts" ] || return 1
        {{WriteWrapper(nonce, "$td_d")}}
        """;

    /// <summary>A tar archive, base64 in a here-document, unpacked into <c>$td_d/work</c>.</summary>
    private static string UnpackBody(string nonce, string archiveBase64) => $"""
        (cd "$td_d/work" && base64 -d <<'TD_PAYLOAD_{nonce}' | tar -xpf -) || return 1
        {archiveBase64.TrimEnd('\n')}
        TD_PAYLOAD_{nonce}
        """;

    /// <summary>
    /// Starts the wrapper in <c>$td_d</c> detached (every descriptor away from the session, so the session ends at once),
    /// waits up to a second for a quick test to be done (saving the polls), then looks.
    /// </summary>
    private static string StartBody(string runId, TimeSpan grace, TimeSpan limit, long logBytes, string machineLock, string holder,
        IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> command, bool keep)
    {
        // The wrapper's arguments, with its own path, the run dir and the artifacts dir taken from $td_d (resolved on the machine).
        List<string> words = ["\"$td_d/" + RunWrapper.FileName + "\"", "run", "\"$td_d\""];
        words.AddRange(RunWrapper.RunArguments("", "", runId, grace, limit, logBytes, machineLock, holder, environment.Where(e => e.Key != ArtifactsVariable).ToDictionary(), command)
            .Skip(3).Select(PosixShell.Quote));
        words.Insert(words.IndexOf(PosixShell.Quote("--")), $"\"{ArtifactsVariable}=$td_d/artifacts\"");
        return $"""
            {LookFunction}
            if [ ! -f "$td_d/wrapper" ]; then
                if command -v setsid >/dev/null 2>&1; then
                    setsid sh {string.Join(' ', words)} </dev/null >/dev/null 2>&1 &
                else
                    echo "testdispatch: setsid is not installed on this machine (it is in util-linux); install it to run tests here" >>"$td_d/output.log"
                fi
            fi
            td_i=0
            while [ ! -s "$td_d/wrapper" ] && [ "$td_i" -lt 500 ]; do sleep 0.01; td_i=$((td_i + 1)); done
            td_i=0
            while [ -s "$td_d/wrapper" ] && [ ! -f "$td_d/done" ] && [ "$td_i" -lt 100 ]; do sleep 0.01; td_i=$((td_i + 1)); done
            td_p=0 td_t=0
            if IFS=' ' read -r td_p td_t <"$td_d/wrapper"; then :; else td_p=0 td_t=0; fi 2>/dev/null
            td_look "$td_d" "$td_p" "$td_t" 0 {(keep ? 1 : 0)}
            """.Replace("LOGCHUNK", LogChunk.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    private const string ArtifactsVariable = "TESTDISPATCH_ARTIFACTS";

    /// <summary>
    /// Finds the wrapper started for a run (the run's directory under the work root): its <c>wrapper</c> line (F), or, in the
    /// instant before it writes that, the live process running it (Q pid start, after waiting for the file a little); nothing
    /// when no wrapper was ever started there.
    /// </summary>
    public static string Find(string nonce, string workRoot, string runId) => Script(nonce, $$"""
        td_root={{PosixShell.Quote(workRoot)}}
        case $td_root in "~/"*) td_root=$HOME/${td_root#"~/"} ;; esac
        td_d=$td_root/{{PosixShell.Quote(runId)}}
        printf 'D %s\n' "$td_d"
        read -r td_b </proc/sys/kernel/random/boot_id
        printf 'B %s\n' "$td_b"
        td_q=
        td_i=0
        while [ "$td_i" -lt 100 ]; do
            if [ -f "$td_d/wrapper" ] && IFS= read -r td_line <"$td_d/wrapper"; then
                printf 'F wrapper %s\n' "$td_line"
                return 0
            fi
            if [ "$td_i" = 0 ]; then
                for td_c in $(grep -l -z -x -F -e "$td_d" /proc/[0-9]*/cmdline 2>/dev/null); do
                    if tr '\000' '\n' <"$td_c" 2>/dev/null | grep -q -x -F -e {{PosixShell.Quote(runId)}}; then
                        td_q=${td_c#/proc/}
                        td_q=${td_q%/cmdline}
                    fi
                done
                [ -n "$td_q" ] || return 0
            fi
            sleep 0.05
            td_i=$((td_i + 1))
        done
        td_f22() { shift 19; td_s22=$1; }
        if IFS= read -r td_st 2>/dev/null <"/proc/$td_q/stat"; then
            td_f22 ${td_st##*) }
            printf 'Q %s %s\n' "$td_q" "$td_s22"
        fi
        """);

    /// <summary>
    /// Fences a run off (see <see cref="ITransport.FenceAsync"/>): makes its directory if need be and its <c>wrapper</c> file,
    /// exclusively; says K when it made it (or an earlier fence did), nothing when a wrapper made it first.
    /// </summary>
    public static string Fence(string nonce, string workRoot, string runId) => Script(nonce, $$"""
        td_root={{PosixShell.Quote(workRoot)}}
        case $td_root in "~/"*) td_root=$HOME/${td_root#"~/"} ;; esac
        td_d=$td_root/{{PosixShell.Quote(runId)}}
        mkdir -p "$td_root" && (umask 077 && mkdir -p "$td_d") || return 1
        if (set -C && echo {{RunWrapper.Fenced}} >"$td_d/wrapper") 2>/dev/null; then
            printf 'K\n'
        elif IFS= read -r td_line <"$td_d/wrapper" && [ "$td_line" = {{RunWrapper.Fenced}} ]; then
            printf 'K\n'
        fi
        """);

    /// <summary>The first step of a launch whose test dir goes by rsync: the run's directory, ready for the copy.</summary>
    public static string Prepare(string nonce, string workRoot, string runId) => Script(nonce, PrepareBody(nonce, workRoot, runId));

    /// <summary>
    /// A whole launch in one round trip, for a small test dir on a machine with tar and base64: the run's directory, the
    /// test dir unpacked into it, the wrapper started, and a first look.
    /// </summary>
    public static string Launch(string nonce, string workRoot, string runId, string archiveBase64, TimeSpan grace, TimeSpan limit, long logBytes, string machineLock, string holder,
        IReadOnlyDictionary<string, string> environment, IReadOnlyList<string> command, bool keep) =>
        Script(nonce, PrepareBody(nonce, workRoot, runId) + "\n" + UnpackBody(nonce, archiveBase64) + "\n" + StartBody(runId, grace, limit, logBytes, machineLock, holder, environment, command, keep));

    /// <summary>
    /// The tar copy into a prepared run dir (a machine without rsync, or a large test dir whose rsync failed): a tar archive,
    /// raw, follows the script on stdin once the script has said its begin marker; what tar leaves unread is read away, so the
    /// shell never takes it for commands.
    /// </summary>
    public static string Unpack(string nonce, string runDir) => Script(nonce, $$"""
        cd {{PosixShell.Quote(runDir + "/work")}} || { cat >/dev/null; return 1; }
        tar -xpf -
        td_s=$?
        cat >/dev/null
        return $td_s
        """, readsStdin: true);

    /// <summary>Starts the wrapper in a prepared run dir, then looks.</summary>
    public static string Start(string nonce, string runDir, string runId, TimeSpan grace, TimeSpan limit, long logBytes, string machineLock, string holder,
        IReadOnlyDictionary<string, string> environment,
        IReadOnlyList<string> command, bool keep) =>
        Script(nonce, $"td_d={PosixShell.Quote(runDir)}\n" + StartBody(runId, grace, limit, logBytes, machineLock, holder, environment, command, keep));

    /// <summary>One look at a run: its wrapper's files and the log from <paramref name="offset"/>.</summary>
    public static string Look(string nonce, string runDir, int wrapperPid, long wrapperTicks, long offset, bool keep) => Script(nonce, $"""
        {LookFunction}
        td_look {PosixShell.Quote(runDir)} {wrapperPid.ToString(CultureInfo.InvariantCulture)} {wrapperTicks.ToString(CultureInfo.InvariantCulture)} {offset.ToString(CultureInfo.InvariantCulture)} {(keep ? 1 : 0)}
        """.Replace("LOGCHUNK", LogChunk.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));

    /// <summary>The wrapper's <c>stop</c> (written again first if the run's directory lost it); returns when nothing of the run is left.</summary>
    public static string Stop(string nonce, string runDir, string runId, TimeSpan grace, string reason) => Script(nonce, $"""
        td_d={PosixShell.Quote(runDir)}
        if [ ! -f "$td_d/{RunWrapper.FileName}" ]; then
            (umask 077 && mkdir -p "$td_d") || return 1
            {WriteWrapper(nonce, "$td_d")}
        fi
        sh {PosixShell.Words(RunWrapper.StopArguments(runDir + "/" + RunWrapper.FileName, runDir, runId, grace, reason))}
        """);

    /// <summary>
    /// Counts the symlinks in artifacts/ (to tell which the copy dropped), then removes reports/ (see <see cref="GatherReports"/>),
    /// and work/ and artifacts/ unless kept.
    /// </summary>
    public static string Finish(string nonce, string runDir, bool keep) => Script(nonce, $"""
        td_d={PosixShell.Quote(runDir)}
        td_n=0
        [ -d "$td_d/artifacts" ] && td_n=$(find "$td_d/artifacts" -type l -exec printf x \; | wc -c)
        printf 'S %s\n' $((td_n + 0))
        rm -rf "$td_d/{ReportsDir}"
        {(keep ? ":" : "chmod -R u+rwx \"$td_d/work\" \"$td_d/artifacts\" 2>/dev/null; rm -rf \"$td_d/work\" \"$td_d/artifacts\"")}
        """);

    /// <summary>Where <see cref="GatherReports"/> puts the reports in the run's directory, for the copy back.</summary>
    public const string ReportsDir = "reports";

    /// <summary>
    /// The regular files (never a symlink, nor anything under one) under <paramref name="roots"/> of the run's work dir
    /// (paths relative to it; "." for all of it), as the reply's raw bytes after <c>L</c>: each path relative to the work dir
    /// and behind "./", ended by a NUL, so that any name comes through. Nothing when the work dir is gone.
    /// </summary>
    public static string ListWork(string nonce, string runDir, IReadOnlyList<string> roots) => Script(nonce, $"""
        printf 'L 0\n'
        cd {PosixShell.Quote(runDir + "/work")} 2>/dev/null || return 0
        find {PosixShell.Words(roots.Select(r => "./" + r))} -type f -print0 2>/dev/null
        return 0
        """);

    /// <summary>
    /// Gathers <paramref name="paths"/> (relative to the run's work dir) into <see cref="ReportsDir"/> at the same paths, by
    /// hard links where the file system allows (else copies), for the copy back to take them as it takes the artifacts.
    /// </summary>
    public static string GatherReports(string nonce, string runDir, IReadOnlyList<string> paths) => Script(nonce, $$"""
        cd {{PosixShell.Quote(runDir)}} || return 1
        rm -rf {{ReportsDir}} && mkdir {{ReportsDir}} || return 1
        td_gather() {
            case $1 in */*) mkdir -p "{{ReportsDir}}/${1%/*}" || return 1 ;; esac
            ln "work/$1" "{{ReportsDir}}/$1" 2>/dev/null || cp "work/$1" "{{ReportsDir}}/$1" || return 1
        }
        {{string.Join('\n', paths.Select(p => "td_gather " + PosixShell.Quote(p) + " || return 1"))}}
        """);

    /// <summary>
    /// A directory of the run's (its artifacts, its gathered reports) as a raw tar archive between the markers (for a machine
    /// without rsync), read as it comes.
    /// </summary>
    public static string Pack(string nonce, string dir) => Script(nonce, $"""
        cd {PosixShell.Quote(dir)} || return 1
        tar -cf - . || return 1
        """);

    /// <summary>The wrapper's files as rm's words in the run's directory: its names quoted, its patterns left to the shell's glob.</summary>
    private static string RemoveControlFiles => string.Join(' ', [.. RunWrapper.ControlFiles.Select(PosixShell.Quote), .. RunWrapper.ControlPatterns]);

    /// <summary>After the verdict: the run's directory goes (or, when the work dir is kept, only the wrapper's files).</summary>
    public static string Forget(string nonce, string runDir, bool keep) => Script(nonce, $"""
        td_d={PosixShell.Quote(runDir)}
        {(keep
            ? "cd \"$td_d\" && rm -f " + RemoveControlFiles
            : "chmod -R u+rwx \"$td_d\" 2>/dev/null; rm -rf \"$td_d\"")}
        """);

    /// <summary>
    /// For each run dir (with its run id) that is still there: stops what is left of the run (the wrapper's stop, written again
    /// if it is gone), then removes the dir (or, when kept, the wrapper's files); says R and the run id of every run nothing is
    /// left of.
    /// </summary>
    public static string Sweep(string nonce, string workRoot, IReadOnlyList<(string? RunDir, string RunId)> runs, TimeSpan grace, bool keep) => Script(nonce, $$"""
        td_root={{PosixShell.Quote(workRoot)}}
        case $td_root in "~/"*) td_root=$HOME/${td_root#"~/"} ;; esac
        td_sweep() {
            td_r=$1 td_d=${2:-$td_root/$1}
            if [ -d "$td_d" ]; then
                if [ -f "$td_d/wrapper" ] || [ -f "$td_d/{{RunWrapper.FileName}}" ]; then
                    if [ ! -f "$td_d/{{RunWrapper.FileName}}" ]; then
                        {{WriteWrapper(nonce, "$td_d")}}
                    fi
                    sh "$td_d/{{RunWrapper.FileName}}" stop "$td_d" "$td_r" {{((long)grace.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)}} {{RunWrapper.Cleanup}} || return 0
                fi
                {{(keep
                    ? "(cd \"$td_d\" && rm -f " + RemoveControlFiles + ") || return 0"
                    : "chmod -R u+rwx \"$td_d\" 2>/dev/null; rm -rf \"$td_d\" || return 0")}}
            fi
            printf 'R %s\n' "$td_r"
        }
        {{string.Join('\n', runs.Select(r => $"td_sweep {PosixShell.Quote(r.RunId)} {PosixShell.Quote(r.RunDir ?? "")}"))}}
        return 0
        """);

    /// <summary>A round trip that only says the machine answers, and its boot id.</summary>
    public static string Ping(string nonce) => Script(nonce, """
        read -r td_b </proc/sys/kernel/random/boot_id
        printf 'B %s\n' "$td_b"
        """);

    private static string WriteWrapper(string nonce, string dirWord) =>
        $"cat >\"{dirWord}/{RunWrapper.FileName}\" <<'TD_WRAPPER_{nonce}' || return 1\n{RunWrapper.Script.TrimEnd('\n')}\nTD_WRAPPER_{nonce}";

    /// <summary>
    /// The body as a function, then one last line that runs it between the markers and exits: the shell has read that whole
    /// line before the body runs, so once the begin marker is out it reads nothing more of stdin (what a script that
    /// <paramref name="readsStdin"/> is sent after it is the script's own), and nothing after it is ever run as a command.
    /// </summary>
    private static string Script(string nonce, string body, bool readsStdin = false)
    {
        StringBuilder script = new();
        script.Append("td_main() {\n");
        script.Append(body.TrimEnd('\n'));
        script.Append("\n}\n");
        script.Append(CultureInfo.InvariantCulture,
            $"printf 'TD-BEGIN %s\\n' {nonce}; td_main{(readsStdin ? "" : " </dev/null")}; printf '\\nTD-END %s %s\\n' {nonce} \"$?\"; exit\n");
        return script.ToString();
    }
}
