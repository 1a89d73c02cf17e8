using System.Diagnostics;
using System.Reflection;

namespace TestDispatch.Bench;

/// <summary>This benchmark program again, in a process of its own: so a measure's peak resident memory (VmHWM) is its own.</summary>
internal static class FreshProcess
{
    /// <summary>Runs <c>&lt;this program&gt; <paramref name="command"/> <paramref name="arguments"/></c> to its end; returns what it printed.</summary>
    public static string Run(string command, IReadOnlyList<string> arguments)
    {
        ProcessStartInfo start = new(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Under 'dotnet TestDispatch.Bench.dll' the process is the dotnet host: hand it the assembly again.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(Assembly.GetExecutingAssembly().Location);
        }
        start.ArgumentList.Add(command);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using Process child = Process.Start(start) ?? throw new InvalidOperationException("could not start a child process");
        Task<string> errors = child.StandardError.ReadToEndAsync();
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        return child.ExitCode == 0 ? output : throw new InvalidOperationException($"the {command} child failed (exit {child.ExitCode}): {output}{errors.Result}");
    }

    /// <summary>This process's peak resident memory so far.</summary>
    public static string Peak() => ProcMemory.Read(Environment.ProcessId) is { } memory ? $"VmHWM {memory.HwmKiB / 1024.0:0} MiB" : "VmHWM ?";
}
