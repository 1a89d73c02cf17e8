using System.Text;
using CliWrap;
using CliWrap.Buffered;
using TestDispatch.Engine.Configuration;
using TestDispatch.Engine.Errors;
using TestDispatch.Engine.Transports.Ssh;
using TestDispatch.Tests.Support;

namespace TestDispatch.Tests.Transports;

/// <summary>The ssh transport's pieces that need no server: the one quoting function, the reply parser, the options it refuses.</summary>
public sealed class SshPiecesTests
{
    public static TheoryData<string> Nasty => new()
    {
        "a  b", "it's", "\\", "trailing\\", "\\\\", "\\'", "\"", "$HOME", "*", "`id`", "$(id)", "line\nbreak", "", "-n", ";|&", "~", "!bang", "é", "'", "''",
    };

    [Theory]
    [MemberData(nameof(Nasty))]
    public async Task A_quoted_word_reaches_the_program_unchanged_under_every_posix_shell(string word)
    {
        foreach (string shell in new[] { "/bin/sh", "/bin/dash", "/bin/bash", "/bin/busybox" }.Where(File.Exists))
        {
            string[] args = shell.EndsWith("busybox", StringComparison.Ordinal) ? ["sh", "-s"] : ["-s"];
            BufferedCommandResult result = await Cli.Wrap(shell).WithArguments(args)
                .WithStandardInputPipe(PipeSource.FromString($"printf '[%s]' {PosixShell.Quote(word)} {PosixShell.Quote(word)}\n"))
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(Encoding.UTF8);

            Assert.True(result.ExitCode == 0, $"{shell}: {result.StandardError}");
            Assert.Equal($"[{word}][{word}]", result.StandardOutput);
        }
    }

    [Fact]
    public void A_reply_is_read_between_its_markers_whatever_the_login_shell_printed_around_it()
    {
        byte[] log = [.. "binary \0\xff and a fake marker\nTD-END 0123 0\n"u8.ToArray(), 0xC3];
        byte[] output = [.. "Welcome to rig-07!\nTD-BEGIN 0123\nB boot\nF pgid 12 34 5.6\nP done\nL 3\n"u8.ToArray(), .. log, .. "\nTD-END 0123 0\nbye\n"u8.ToArray()];

        RemoteReply reply = RemoteReply.Parse(output, "0123")!;

        Assert.Equal(0, reply.Status);
        Assert.Equal("boot", reply.Value('B'));
        Assert.Equal(["pgid 12 34 5.6"], reply.Values('F'));
        Assert.Equal(["done"], reply.Values('P'));
        Assert.Equal(log, reply.Log);
    }

    [Fact]
    public void A_reply_without_its_end_marker_is_no_reply()
    {
        Assert.Null(RemoteReply.Parse("TD-BEGIN 0123\nB boot\n"u8.ToArray(), "0123"));
        Assert.Null(RemoteReply.Parse("TD-BEGIN 9999\nB boot\nTD-END 9999 0\n"u8.ToArray(), "0123"));
        Assert.Equal(3, RemoteReply.Parse("TD-BEGIN 0123\n\nTD-END 0123 3\n"u8.ToArray(), "0123")!.Status);
    }

    [Theory]
    [InlineData("\"-oControlPath=/tmp/x\"", "sets ControlPath")]
    [InlineData("\"-o\", \"ControlMaster=auto\"", "sets ControlMaster")]
    [InlineData("\"-o\", \"RemoteCommand bash\"", "sets RemoteCommand")]
    [InlineData("\"-oRequestTTY=force\"", "sets RequestTTY")]
    [InlineData("\"-tt\"", "has -tt")]
    [InlineData("\"-v\"", "has -v without -E")]
    public void Ssh_options_that_would_break_the_transport_are_refused_at_config_load_naming_the_machine(string options, string said)
    {
        using TempDir dir = new();
        string config = dir.Combine("config.json");
        File.WriteAllText(config, $$"""
            { "TestDispatch": { "Machines": [ { "Name": "rig-07", "Transport": "ssh", "Host": "rig-07.lab", "SshOptions": [{{options}}] } ] } }
            """);

        ConfigSources sources = new()
        {
            DefaultFile = config,
            UserFile = dir.Combine("no-user.json"),
            Environment = new Dictionary<string, string> { ["HOME"] = "/home/lab" },
        };

        DispatchException error = Assert.Throws<DispatchException>(() => { LabConfigLoader.Load(sources); });

        Assert.Contains(said, error.Message, StringComparison.Ordinal);
        Assert.Contains("rig-07", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Harmless_options_and_debug_output_to_a_file_are_accepted()
    {
        Machine machine = new()
        {
            Name = "rig", Transport = TransportKind.Ssh, Host = "rig.lab",
            SshOptions = ["-oStrictHostKeyChecking=yes", "-o", "ServerAliveInterval=2", "-E", "/tmp/ssh.log", "-v", "-4"],
        };

        Assert.Empty(SshSettings.Problems(machine));
    }

    [Fact]
    public void The_master_socket_fits_in_90_bytes_even_under_a_long_state_dir()
    {
        Machine machine = new() { Name = "rig", Transport = TransportKind.Ssh, Host = "rig.lab" };
        string shortState = "/home/lab/.local/state/testdispatch";
        string longState = "/home/lab/" + new string('d', 100) + "/state";

        string inState = SshEndpoint.ControlPathFor(machine, shortState);
        string elsewhere = SshEndpoint.ControlPathFor(machine, longState);

        Assert.StartsWith(shortState + "/cm/", inState, StringComparison.Ordinal);
        Assert.True(Encoding.UTF8.GetByteCount(elsewhere) <= SshEndpoint.MaxControlPath, elsewhere);
        Assert.StartsWith(SshEndpoint.ShortSocketDir(), elsewhere, StringComparison.Ordinal);
        Assert.NotEqual(SshEndpoint.ControlPathFor(machine with { Port = 2222 }, shortState), inState);
    }

    [Fact]
    public void Two_machines_on_one_host_and_user_have_a_master_socket_each()
    {
        Machine first = new() { Name = "rig-a", Transport = TransportKind.Ssh, Host = "rig.lab", User = "lab", WorkRoot = "/srv/a" };
        Machine second = first with { Name = "rig-b", WorkRoot = "/srv/b" };

        string state = "/home/lab/.local/state/testdispatch";

        Assert.NotEqual(SshEndpoint.ControlPathFor(first, state), SshEndpoint.ControlPathFor(second, state));
        Assert.Equal(SshEndpoint.ControlPathFor(first, state), SshEndpoint.ControlPathFor(first with { }, state));
    }
}
