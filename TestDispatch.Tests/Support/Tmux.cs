using CliWrap;
using CliWrap.Buffered;

namespace TestDispatch.Tests.Support;

/// <summary>
/// A real terminal: a private tmux server (its own socket, so a user's tmux is never touched) running
/// one program; keys go in with send-keys, the screen comes back with capture-pane.
/// </summary>
public sealed class Tmux : IAsyncDisposable
{
    private readonly string _socket = "testdispatch-e2e-" + Guid.NewGuid().ToString("N")[..8];

    public async Task StartAsync(IReadOnlyList<string> command, int width = 120, int height = 32, IReadOnlyDictionary<string, string>? environment = null)
    {
        List<string> args = ["-L", _socket, "new-session", "-d", "-s", "e2e", "-x", $"{width}", "-y", $"{height}"];
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            args.AddRange(["-e", $"{key}={value}"]);
        }
        await Run([.. args, .. command]);
    }

    public async Task SendKeysAsync(params string[] keys) => await Run(["-L", _socket, "send-keys", "-t", "e2e", .. keys]);

    /// <summary>Types text literally (no key names).</summary>
    public async Task TypeAsync(string text) => await Run(["-L", _socket, "send-keys", "-t", "e2e", "-l", text]);

    /// <summary>The terminal changes size, as when the user resizes their window: the program gets SIGWINCH.</summary>
    public async Task ResizeAsync(int width, int height) =>
        await Run(["-L", _socket, "resize-window", "-t", "e2e", "-x", $"{width}", "-y", $"{height}"]);

    /// <summary>Writes straight to the pane's terminal, behind the program's back (as a wall message or a stray child would).</summary>
    public async Task WriteToTerminalAsync(string text)
    {
        BufferedCommandResult result = await Cli.Wrap("tmux").WithArguments(["-L", _socket, "display-message", "-p", "-t", "e2e", "#{pane_tty}"])
            .ExecuteBufferedAsync();
        await File.AppendAllTextAsync(result.StandardOutput.Trim(), text);
    }

    public async Task<string> ScreenAsync()
    {
        BufferedCommandResult result = await Cli.Wrap("tmux").WithArguments(["-L", _socket, "capture-pane", "-p", "-t", "e2e"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        return result.StandardOutput;
    }

    /// <summary>The pid of the program in the pane.</summary>
    public async Task<int> PanePidAsync()
    {
        BufferedCommandResult result = await Cli.Wrap("tmux").WithArguments(["-L", _socket, "list-panes", "-t", "e2e", "-F", "#{pane_pid}"])
            .ExecuteBufferedAsync();
        return int.Parse(result.StandardOutput.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The terminal goes away, as when an SSH session drops: the program gets SIGHUP.</summary>
    public async Task HangUpAsync() =>
        await Cli.Wrap("tmux").WithArguments(["-L", _socket, "kill-server"]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();

    public async Task<bool> IsRunningAsync()
    {
        BufferedCommandResult result = await Cli.Wrap("tmux").WithArguments(["-L", _socket, "has-session", "-t", "e2e"])
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        return result.ExitCode == 0;
    }

    public async Task<string> WaitForAsync(Func<string, bool> condition, string what, TimeSpan? within = null)
    {
        DateTime deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        string screen = "";
        while (DateTime.UtcNow < deadline)
        {
            screen = await ScreenAsync();
            if (condition(screen))
            {
                return screen;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"the terminal never showed {what}:\n{screen}");
    }

    public Task<string> WaitForAsync(string text, TimeSpan? within = null) =>
        WaitForAsync(s => s.Contains(text, StringComparison.Ordinal), $"'{text}'", within);

    private static async Task Run(string[] args) =>
        await Cli.Wrap("tmux").WithArguments(args).ExecuteBufferedAsync();

    public async ValueTask DisposeAsync() =>
        await Cli.Wrap("tmux").WithArguments(["-L", _socket, "kill-server"]).WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
}
